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
    throw new UserError('{0}: {1} (see corpus-lab {0} --help)', command, message);
  }
  const { positionals } = parsed;
  const required = spec.args.filter((a) => !a.startsWith('['));
  if (positionals.length < required.length)
    throw new UserError('{0}: missing {1} (see corpus-lab {0} --help)', command, required.slice(positionals.length).join(' and '));
  if (positionals.length > spec.args.length)
    throw new UserError('{0}: unexpected argument "{1}" (see corpus-lab {0} --help)', command, positionals[spec.args.length]);
  for (const [name, value] of Object.entries(spec.required ?? {})) {
    if (parsed.values[name] === undefined)
      throw new UserError('{0}: {1} is required (see corpus-lab {0} --help)', command, flagText(name as OptionName, value));
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
    if (!kind.includes(text)) throw new UserError('--{0} must be one of {1} (got "{2}")', name, kind.join(', '), String(raw));
    return text;
  }
  if (kind === 'bool') {
    if (text !== 'true' && text !== 'false') throw new UserError('--{0} must be true or false (got "{1}")', name, String(raw));
    return text === 'true';
  }
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) throw new UserError('--{0} must be a number (got "{1}")', name, String(raw));
  if (kind === 'int' && !Number.isInteger(value)) throw new UserError('--{0} must be a whole number (got "{1}")', name, String(raw));
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
