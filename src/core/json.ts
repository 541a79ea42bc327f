import { UserError } from './errors';

export type JsonObject = Record<string, unknown>;

export const isObject = (x: unknown): x is JsonObject => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Untrusted text that must be one JSON object; any other content is a UserError naming `source`. */
export function parseJsonObject(text: string, source: string): JsonObject {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError('{0}: not valid JSON ({1})', source, (e as Error).message);
  }
  if (!isObject(raw)) throw new UserError('{0}: not a JSON object', source);
  return raw;
}
