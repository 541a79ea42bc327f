/** One JSON object per line on stdout: the machine-readable contract of --json. */
export function printJson(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

export function info(line: string): void {
  process.stderr.write(line + '\n');
}
