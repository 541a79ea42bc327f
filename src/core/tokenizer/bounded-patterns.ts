import { Script, createContext } from 'node:vm';
import { UserError } from '../errors';
import { KNOWN_SPLIT_PATTERNS } from './known-split-patterns';
import { forEachComponent } from './library-components';

// A tokenizer.json from the internet can hold a regex that backtracks for ever, such as "(a+)+$" on
// "aaa…a!". The Rust library stops such a search (Oniguruma's retry limit); the JS library would
// hang, and no linear-time engine runs the lookaheads real patterns use ("\s+(?!\S)"). So each
// search with a pattern from the file runs under a time limit far above what a linear scan needs.
const BASE_MS = 1000;
const MS_PER_1000_CHARS = 1;

export function searchLimitMs(textLength: number): number {
  return BASE_MS + Math.ceil(textLength / 1000) * MS_PER_1000_CHARS;
}

const context = createContext({ search: (): unknown => undefined });
const runSearch = new Script('search()');

/**
 * Stands in for a RegExp wherever the tokenizer library uses one (match, matchAll, split,
 * replaceAll); each search is stopped with a UserError when it outlasts searchLimitMs.
 */
class TimeLimitedPattern {
  constructor(
    private readonly re: RegExp,
    /** The pattern as tokenizer.json spells it (the library rewrites Oniguruma syntax for JS). */
    private readonly pattern: string,
    private readonly source: string,
  ) {}

  get flags(): string {
    return this.re.flags;
  }
  get global(): boolean {
    return this.re.global;
  }

  [Symbol.match](text: string): RegExpMatchArray | null {
    return this.limited(text, () => this.re[Symbol.match](text));
  }
  [Symbol.matchAll](text: string): IterableIterator<RegExpMatchArray> {
    // Found whole within the limit: a lazy iterator would search outside it.
    return this.limited(text, () => [...this.re[Symbol.matchAll](text)]).values();
  }
  [Symbol.split](text: string, limit?: number): string[] {
    return this.limited(text, () => this.re[Symbol.split](text, limit));
  }
  [Symbol.replace](text: string, replacement: string): string {
    return this.limited(text, () => this.re[Symbol.replace](text, replacement));
  }

  private limited<T>(text: string, search: () => T): T {
    if (!shared) return underLimit(text.length, this.pattern, this.source, search);
    shared.pattern = this.pattern;
    return search();
  }
}

/** Inside limitedTogether: the searches share its limit, and the last pattern searched is the one to name. */
let shared: { pattern: string } | undefined;

function underLimit<T>(textLength: number, pattern: string | (() => string), source: string, run: () => T): T {
  const ms = searchLimitMs(textLength);
  context.search = run;
  try {
    return runSearch.runInContext(context, { timeout: ms }) as T;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw e;
    throw new UserError(
      '{0}: the pattern {1} did not finish within {2} s on a text of {3} characters (it backtracks without end): fix or remove it in tokenizer.json',
      source,
      JSON.stringify(typeof pattern === 'string' ? pattern : pattern()).slice(0, 80),
      Math.round(ms / 100) / 10,
      textLength,
    );
  } finally {
    context.search = () => undefined;
  }
}

/**
 * Texts up to this long are encoded under one time limit for all their searches rather than one per
 * search: each limit starts a watchdog, and a rendered chat is searched in many short pieces
 * between its special tokens. The limit then also covers the library's own work on the text (tens
 * of milliseconds here, under its 1 s base even on busy cores); longer texts keep a limit per search.
 */
const SHARED_LIMIT_CHARS = 10_000;

/** Runs encode, which searches `text` with the tokenizer's patterns, under one time limit for the whole text. */
export function limitedTogether<T>(text: string, source: string, encode: () => T): T {
  if (shared || text.length > SHARED_LIMIT_CHARS) return encode();
  const batch = { pattern: '' };
  shared = batch;
  try {
    return underLimit(text.length, () => batch.pattern, source, encode);
  } finally {
    shared = undefined;
  }
}

/**
 * Puts a time limit on every search with a Regex pattern of the tokenizer.json (Split and Replace
 * in the normalizer, pre-tokenizer and decoder, inside Sequences too). String patterns are escaped
 * literals, which cannot backtrack, and the library's own patterns and the known ones of real
 * tokenizers (KNOWN_SPLIT_PATTERNS) are linear: all are left as they are. True when a search is limited.
 */
export function limitPatternSearches(hf: object, source: string): boolean {
  let limited = false;
  forEachComponent(hf, (node) => {
    const component = node as { pattern?: unknown; config?: { pattern?: { Regex?: unknown } } };
    const regex = component.config?.pattern?.Regex;
    if (component.pattern instanceof RegExp && typeof regex === 'string' && !KNOWN_SPLIT_PATTERNS.has(regex))
      component.pattern = new TimeLimitedPattern(component.pattern, regex, source);
    limited ||= component.pattern instanceof TimeLimitedPattern;
  });
  return limited;
}
