import { UserError } from './errors';

export type JsonObject = Record<string, unknown>;

export const isObject = (x: unknown): x is JsonObject => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Untrusted text that must be one JSON object; any other content is a UserError naming `source`. */
export function parseJsonObject(text: string, source: string): JsonObject {
  // As Python's json and serde_json (what transformers and tokenizers read with), which refuse it.
  if (text.charCodeAt(0) === 0xfeff)
    throw new UserError('{0} starts with a byte-order mark, which Hugging Face tools refuse: save it as UTF-8 without BOM', source);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError('{0}: not valid JSON ({1})', source, jsonSyntaxError(e as Error, text));
  }
  if (!isObject(raw)) throw new UserError('{0}: not a JSON object', source);
  return raw;
}

/**
 * JSON.parse's reason, with where it stopped as a line and column instead of the snippet of the
 * text it may quote (over several lines): an error message never carries file contents.
 */
export function jsonSyntaxError(e: Error, text: string): string {
  const reason = e.message
    .replace(/, ".*" is not valid JSON$/s, '')
    .replace(/ in JSON at position.*$/s, '')
    .replace(/[\p{Cc}\p{Zl}\p{Zp}\uFEFF]/gu, '?');
  const at = /at position (\d+)/.exec(e.message);
  if (!at) return reason;
  const before = text.slice(0, Number(at[1]));
  return `${reason} at line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')}`;
}
