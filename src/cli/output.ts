/** One JSON object per line on stdout: the machine-readable contract of --json. */
export function printJson(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/** A command's result in words, on stdout, so it can be redirected like the --json one. */
export function printResult(line: string): void {
  process.stdout.write(line + '\n');
}

/** Notes about how a command ran (progress, what was written where, engine fallbacks), on stderr. */
export function info(line: string): void {
  process.stderr.write(line + '\n');
}
