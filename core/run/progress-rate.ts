/**
 * A job's pace from its progress reports (`JUDGELOOP_PROGRESS {done, total, unit}`): units per second since the
 * first report this observer saw, and the seconds left at that pace. Pure; the local runner puts both in its
 * heartbeat details, where `judgeloop follow`, `status` and the Temporal UI read them.
 */

export interface ProgressSample {
  done: number;
  /** Milliseconds (any clock, the same for both samples). */
  at: number;
}

export interface Pace {
  /** Units per second; absent until two reports a moment apart show work done. */
  perSecond?: number;
  /** At that pace, until `total`; absent without a pace or a total. */
  secondsLeft?: number;
}

/** The pace from `first` to `latest`; nothing while there is no measurable progress between them. */
export function paceOf(first: ProgressSample, latest: ProgressSample & { total?: number }): Pace {
  const seconds = (latest.at - first.at) / 1000;
  const units = latest.done - first.done;
  // Under half a second apart, or nothing done: any figure would be noise.
  if (!(seconds >= 0.5) || !(units > 0)) return {};
  const perSecond = units / seconds;
  const left = latest.total !== undefined && latest.total >= latest.done ? (latest.total - latest.done) / perSecond : undefined;
  return { perSecond: round(perSecond), ...(left !== undefined ? { secondsLeft: Math.round(left) } : {}) };
}

/** Three significant figures: enough to read, few enough to keep heartbeat details short. */
function round(x: number): number {
  return Number(x.toPrecision(3));
}
