/** Llama 3's: digits in groups of up to three. */
export const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's, Qwen2.5's and Qwen3's: every digit on its own. */
export const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** GPT-2's, written out as a Split. */
export const GPT2_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/**
 * The split patterns of real tokenizers, exactly as their tokenizer.json spells them. Each alternative
 * scans one run of a class (letters, digits, other, whitespace) and gives back at most that run,
 * which the match then takes, so a search is linear in the text and needs no time limit (see
 * bounded-patterns.ts). Only these spellings, byte for byte: one character off is not known.
 */
export const KNOWN_SPLIT_PATTERNS: ReadonlySet<string> = new Set([LLAMA3_SPLIT, QWEN2_SPLIT, GPT2_SPLIT_PATTERN]);
