/**
 * A message kept as its English template ("{0} is empty: nothing to train on") and its arguments,
 * so each front end renders it in its own language: the CLI in English, the extension through
 * vscode.l10n.t with the template as the key. An argument may itself be a message.
 */
export type Message = { readonly template: string; readonly args: readonly MessageArg[] };
export type MessageArg = string | number | Message;

/** A part of a message, itself translated (for helpers that add the file name around a reason). */
export function message(template: string, ...args: MessageArg[]): Message {
  return { template, args };
}

/** Fills `{0}`, `{1}`… with the arguments, each rendered by `render` (English by default). */
export function formatMessage(m: Message, render: (m: Message) => string = englishText): string {
  return fill(
    m.template,
    m.args.map((a) => (typeof a === 'object' ? render(a) : String(a))),
  );
}

/** Puts each `{i}` of a (possibly translated) template in place; placeholders without an argument stay. */
export function fill(template: string, args: readonly string[]): string {
  return template.replace(/\{(\d+)\}/g, (whole, i: string) => (Number(i) < args.length ? args[Number(i)] : whole));
}

function englishText(m: Message): string {
  return formatMessage(m, englishText);
}

/**
 * An error caused by what the user gave us (a file, a flag, a checkpoint).
 * Front ends show its message as one line (CLI: exit 2; extension: an error notification)
 * and never a stack trace. `message` is the English text; `parts` what a front end translates.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  readonly parts: Message;
  constructor(template: string, ...args: MessageArg[]) {
    const parts = message(template, ...args);
    super(formatMessage(parts));
    this.parts = parts;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof Error && e.name === 'UserError';
}

/** Whether a value received from another thread is a well-formed Message. */
export function isMessage(v: unknown): v is Message {
  if (typeof v !== 'object' || v === null) return false;
  const { template, args } = v as Record<string, unknown>;
  return (
    typeof template === 'string' && Array.isArray(args) && args.every((a) => typeof a === 'string' || typeof a === 'number' || isMessage(a))
  );
}

/** Longest error text shown: a message names files and reasons, never whole contents. */
export const MAX_ERROR_CHARS = 1000;

/**
 * Error text as shown: one line (line breaks and other control characters made spaces), at most
 * MAX_ERROR_CHARS long. A message may carry a library's multi-line text or a damaged file's bytes.
 */
export function oneLine(text: string): string {
  const flat = text.replace(/[\p{Cc}\p{Zl}\p{Zp}\uFEFF]+/gu, ' ').trim();
  return flat.length > MAX_ERROR_CHARS ? `${flat.slice(0, MAX_ERROR_CHARS - 1)}…` : flat;
}
