/**
 * A sleep that an AbortSignal cuts short. The abort listener is removed when the timer fires: poll loops
 * call this once per poll with one long-lived signal (an activity's), and listeners left behind piled up
 * until Node warned (MaxListenersExceededWarning: 11 abort listeners).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
