/** Helpers over a workflow's event history (as fetched from the server). */
import type { temporal } from '@temporalio/proto';

/** Sizes of every payload body in a history: each `data` byte array found anywhere in its events. */
export function payloadSizes(history: temporal.api.history.v1.IHistory): number[] {
  const sizes: number[] = [];
  const seen = new Set<unknown>();
  const walk = (value: unknown) => {
    if (!value || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (value instanceof Uint8Array) {
      sizes.push(value.length);
      return;
    }
    for (const child of Object.values(value as Record<string, unknown>)) walk(child);
  };
  walk(history.events ?? []);
  return sizes;
}

export function activityAttempts(history: temporal.api.history.v1.IHistory): Map<string, number[]> {
  const scheduled = new Map<string, string>();
  const attempts = new Map<string, number[]>();
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const name = scheduled.get(String(started.scheduledEventId)) ?? '?';
      attempts.set(name, [...(attempts.get(name) ?? []), started.attempt ?? 1]);
    }
  }
  return attempts;
}
