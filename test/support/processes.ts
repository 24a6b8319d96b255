/**
 * Process inspection for tests (Linux /proc): is a pid alive, which processes are children of a pid. The
 * reading of /proc is activities/jobs/process-group.ts's, so tests judge "alive" exactly as the kill does.
 */
import fs from 'node:fs';
import { isRunning, procStat } from '../../activities/jobs/process-group';

/** True while the process exists and is not a zombie. */
export const isAlive = isRunning;

/** Live processes whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = procStat(Number(entry));
    if (s && s.ppid === pid && s.state !== 'Z' && s.state !== 'X') children.push(Number(entry));
  }
  return children;
}

/** `pid` and all its live descendants. */
export function processTree(pid: number): number[] {
  const all: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    if (!isAlive(p)) continue;
    all.push(p);
    queue.push(...childrenOf(p));
  }
  return all;
}

/** The command line of a pid ('' if gone). */
export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Polls until `pids` are all gone or `timeoutMs` passes; returns the ones still alive. */
export async function waitGone(pids: number[], timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    alive = alive.filter(isAlive);
  }
  return alive;
}
