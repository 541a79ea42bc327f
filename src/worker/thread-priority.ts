import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Lowers the scheduling priority (raises the nice value) of the calling thread only, so a
 * training thread yields the CPU to the editor when both want it. Linux keeps a nice value per
 * thread and `setpriority` accepts a thread id; elsewhere a pid means the whole process, so
 * nothing is changed there. Returns what was done, for the log.
 */
export function lowerThreadPriority(nice: number): string {
  if (process.platform !== 'linux') return `thread priority unchanged (${process.platform})`;
  try {
    const tid = ownThreadId();
    if (!Number.isInteger(tid) || tid <= 0) return 'thread priority unchanged (no thread id)';
    const target = Math.max(getPriority(tid), nice);
    setPriority(tid, target);
    return `thread ${tid} runs at nice ${target}`;
  } catch (e) {
    return `thread priority unchanged (${(e as Error).message})`;
  }
}

/** The calling thread's nice value (0 where threads have none of their own). */
export function currentThreadNice(): number {
  if (process.platform !== 'linux') return 0;
  try {
    return getPriority(ownThreadId());
  } catch {
    return 0;
  }
}

/** The calling thread's Linux thread id. */
function ownThreadId(): number {
  return Number(readlinkSync('/proc/thread-self').split('/').pop());
}
