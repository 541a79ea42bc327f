// One side of a side-by-side benchmark: a command run as its own process under /usr/bin/time.
import { spawnSync } from 'node:child_process';

/** Runs a command under /usr/bin/time: its last stdout line as JSON, with its peak RSS in bytes. */
export function measured(cmd, args) {
  const r = spawnSync('/usr/bin/time', ['-f', 'peak_rss_kb=%M', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const kb = Number(/peak_rss_kb=(\d+)/.exec(r.stderr)?.[1]);
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()), peak_rss_bytes: kb * 1024 };
}
