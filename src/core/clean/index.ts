import { UserError } from '../errors';
import { CleanStream } from './clean-stream';

export type CleanRule = 'markup' | 'urls' | 'front-matter' | 'emoji';
export const CLEAN_RULES: readonly CleanRule[] = ['front-matter', 'markup', 'urls', 'emoji'];

export type CleanOptions = Partial<Record<CleanRule, boolean>>;

export interface CleanStepReport {
  rule: string;
  count: number;
  description: string;
}

export interface CleanReport {
  steps: CleanStepReport[];
  charsBefore: number;
  charsAfter: number;
  linesBefore: number;
  linesAfter: number;
}

/**
 * Normalises a text for training. Always: NFC (which composes conjoining Hangul Jamo into
 * syllables), line breaks to LF, no control or zero-width characters, no trailing spaces, at most
 * one blank line in a row, one final newline. Optional rules remove markup, URLs, front matter, emoji.
 */
export function cleanText(input: string, options: CleanOptions = {}): { text: string; report: CleanReport } {
  const pieces: string[] = [];
  const stream = new CleanStream(options, (piece) => pieces.push(piece), '', { pieceChars: Infinity, holdChars: Infinity });
  stream.push(input);
  stream.endDocument();
  return { text: pieces.join(''), report: stream.report() };
}

/** The optional rules that are on, in CLEAN_RULES order (how a cleaning is named and recorded). */
export function cleanRuleNames(options: CleanOptions): CleanRule[] {
  return CLEAN_RULES.filter((rule) => options[rule]);
}

/** The cleaning recorded as rule names (run.json, prepared.json): undefined when the text was not cleaned. */
export function cleanOptionsOf(rules: readonly string[] | undefined): CleanOptions | undefined {
  return rules && parseCleanRules(rules.join(','));
}

/** How a cleaning is described in messages: "as it is", "cleaned", "cleaned with markup, urls". */
export function cleaningName(options: CleanOptions | undefined): string {
  if (!options) return 'as it is';
  const rules = cleanRuleNames(options);
  return rules.length > 0 ? `cleaned with ${rules.join(', ')}` : 'cleaned';
}

/** Parses `--rules a,b,c`; unknown names are a UserError listing the valid ones. */
export function parseCleanRules(list: string): CleanOptions {
  const options: CleanOptions = {};
  for (const raw of list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const name = raw === 'frontmatter' || raw === 'front_matter' ? 'front-matter' : raw;
    if (!CLEAN_RULES.includes(name as CleanRule))
      throw new UserError('unknown clean rule "{0}": choose from {1}', raw, CLEAN_RULES.join(', '));
    options[name as CleanRule] = true;
  }
  return options;
}
