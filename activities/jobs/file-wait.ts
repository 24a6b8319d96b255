/**
 * A poll interval that ends early when a job's exit record appears. The local runner polls a job once a
 * second (log lines, a heartbeat, the exit record); waiting out the whole second after the job ended cost
 * each job step half a second on average. Linux's inotify (fs.watch) wakes the poll as the record is renamed
 * into place; where watching fails, the interval runs its course.
 */
import { watch, type FSWatcher } from 'node:fs';

/** Resolves after `ms`, when `name` is created or renamed in `dir`, or when `signal` aborts, whichever is first. */
export function sleepUntilFile(dir: string, name: string, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    let watcher: FSWatcher | undefined;
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      watcher?.close();
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    try {
      watcher = watch(dir, { persistent: false }, (_event, file) => {
        if (file === name) done();
      });
      watcher.on('error', () => undefined);
    } catch {
      /* the folder cannot be watched here: the timer alone */
    }
  });
}
