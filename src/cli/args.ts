import { parseArgs } from 'node:util';
import { UserError } from '../core/errors';
import { COMMANDS, OPTIONS, OptionName, OptionSpec, flagText } from './options';

export interface ParsedCommand {
  /** Option values by camelCase name (--max-steps → maxSteps), converted and type-checked; absent ones left out. */
  options: Record<string, unknown>;
  positionals: string[];
}

/** Strict parsing of one command's flags (options.ts); every mistake becomes one clear line (UserError). */
export function parseCommand(command: string, argv: string[]): ParsedCommand {
  const spec = COMMANDS[command];
  const parseSpec = Object.fromEntries(
    spec.options.map((name) => {
      const o: OptionSpec = OPTIONS[name];
      return [name, { type: o.kind === 'switch' ? ('boolean' as const) : ('string' as const), ...(o.short ? { short: o.short } : {}) }];
    }),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, spec.options), options: parseSpec, allowPositionals: true, strict: true });
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0].replace(/\. To specify a positional argument.*$/s, '') : String(e);
    throw new UserError(`${command}: ${message} (see corpus-lab ${command} --help)`);
  }
  const { positionals } = parsed;
  const required = spec.args.filter((a) => !a.startsWith('['));
  if (positionals.length < required.length)
    throw new UserError(`${command}: missing ${required.slice(positionals.length).join(' and ')} (see corpus-lab ${command} --help)`);
  if (positionals.length > spec.args.length)
    throw new UserError(`${command}: unexpected argument "${positionals[spec.args.length]}" (see corpus-lab ${command} --help)`);
  for (const [name, value] of Object.entries(spec.required ?? {})) {
    if (parsed.values[name] === undefined)
      throw new UserError(`${command}: ${flagText(name as OptionName, value)} is required (see corpus-lab ${command} --help)`);
  }
  const options: Record<string, unknown> = {};
  for (const name of spec.options) {
    const raw = parsed.values[name];
    if (raw !== undefined) options[camelCase(name)] = convert(name, raw);
  }
  return { options, positionals };
}

function camelCase(flag: string): string {
  return flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
}

function convert(name: OptionName, raw: string | boolean | (string | boolean)[]): unknown {
  const { kind }: OptionSpec = OPTIONS[name];
  if (kind === 'switch' || kind === 'text') return raw;
  const text = String(raw).trim();
  if (Array.isArray(kind)) {
    if (!kind.includes(text)) throw new UserError(`--${name} must be one of ${kind.join(', ')} (got "${raw}")`);
    return text;
  }
  if (kind === 'bool') {
    if (text !== 'true' && text !== 'false') throw new UserError(`--${name} must be true or false (got "${raw}")`);
    return text === 'true';
  }
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) throw new UserError(`--${name} must be a number (got "${raw}")`);
  if (kind === 'int' && !Number.isInteger(value)) throw new UserError(`--${name} must be a whole number (got "${raw}")`);
  return value;
}

/** `--lr -1` → `--lr=-1`, so a negative number reaches the range check with a useful message. */
function joinNegativeValues(argv: string[], names: OptionName[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? (argv[i].slice(2) as OptionName) : undefined;
    const next = argv[i + 1];
    if (name && names.includes(name) && OPTIONS[name].kind !== 'switch' && next !== undefined && /^-(\d|\.\d|Infinity|NaN)/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}
