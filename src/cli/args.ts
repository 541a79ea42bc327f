import { parseArgs } from 'node:util';
import { UserError } from '../core/errors';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Strict flag parsing; every mistake becomes one clear line (UserError). */
export function parseCommandArgs(command: string, argv: string[], options: OptionSpec, positionals: { min: number; max: number; names: string }): Parsed {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0].replace(/\. To specify a positional argument.*$/s, '') : String(e);
    throw new UserError(`${command}: ${message} (see corpus-lab help)`);
  }
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UserError(`${command}: missing ${positionals.names} (see corpus-lab help)`);
  if (n > positionals.max) throw new UserError(`${command}: unexpected argument "${parsed.positionals[positionals.max]}" (see corpus-lab help)`);
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals };
}

/** `--lr -1` → `--lr=-1`, so a negative number reaches the range check with a useful message. */
function joinNegativeValues(argv: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity|NaN)/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** A numeric flag's value; undefined when absent. Range checks happen where the value is used. */
export function numberFlag(values: Parsed['values'], name: string, kind: 'int' | 'real' = 'int'): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) throw new UserError(`--${name} must be a number (got "${raw}")`);
  if (kind === 'int' && !Number.isInteger(value)) throw new UserError(`--${name} must be a whole number (got "${raw}")`);
  return value;
}

export function choiceFlag<T extends string>(values: Parsed['values'], name: string, choices: readonly T[]): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (!choices.includes(raw as T)) throw new UserError(`--${name} must be one of ${choices.join(', ')} (got "${raw}")`);
  return raw as T;
}

export function stringFlag(values: Parsed['values'], name: string): string | undefined {
  const raw = values[name];
  return raw === undefined ? undefined : String(raw);
}
