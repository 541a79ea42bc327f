// A test helper shared by the suites that check the extension host never blocks on the disk.

/**
 * Records the extension's synchronous file-system calls (fs.*Sync from its own code). A cold disk
 * turns any of them into a stall of the host thread: 115 ms in one readFileSync was seen on a fresh clone.
 */
export function syncFsSpy(): { stop(): string[] } {
  // The module object itself (an ES import binding cannot be patched), so the spy sees every caller.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('node:fs') as Record<string, unknown>;
  const calls: string[] = [];
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  for (const name of Object.keys(fs)) {
    const original = fs[name];
    if (!name.endsWith('Sync') || typeof original !== 'function') continue;
    originals.set(name, original as (...args: unknown[]) => unknown);
    fs[name] = function (this: unknown, ...args: unknown[]) {
      const frames = (new Error().stack ?? '').split('\n').slice(2);
      const caller = frames.find((f) => /dist[\\/]extension\.js|src[\\/]extension[\\/]/.test(f));
      if (caller) calls.push(`${name}(${String(args[0])}) at ${caller.trim()}`);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  return {
    stop() {
      for (const [name, original] of originals) fs[name] = original;
      return calls;
    },
  };
}
