import { SplitPreTokenizer } from '@huggingface/tokenizers';
import { GPT2_SPLIT } from './bytes-to-unicode';
import { forEachComponent } from './library-components';

/** ASCII letters whose Unicode case folding also takes a non-ASCII letter: ſ (U+017F) and K (U+212A). */
const NON_ASCII_FOLDS: Record<string, string> = { s: 'ſ', k: '\u212A' };

/** In each plain (?i:…) group (letters and punctuation only), s and k also match ſ and K. */
export function foldLikeOniguruma(pattern: string): string {
  return pattern.replace(
    /\(\?i:([^()[\]\\]*)\)/g,
    (_group, body: string) => `(?i:${body.replace(/[sk]/gi, (c) => `[${c}${NON_ASCII_FOLDS[c.toLowerCase()]}]`)})`,
  );
}

// Strict, so invalid bytes are found; ignoreBOM, so a U+FEFF in the text is kept.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A run of byte tokens as Rust's ByteFallback decodes it: its text, or one U+FFFD per byte if not UTF-8. */
const rustByteRun = {
  decode(bytes: Uint8Array): string {
    try {
      return utf8Strict.decode(bytes);
    } catch {
      return '\uFFFD'.repeat(bytes.length);
    }
  },
};

/**
 * The RegExp @huggingface/tokenizers searches with for a Split pattern (its translation of
 * Oniguruma's syntax), folding case as Oniguruma does: its (?i:'s) matches "'ſ"; the library folds ASCII letters only.
 */
export function libraryPattern(regex: string): RegExp {
  return new SplitPreTokenizer({ type: 'Split', pattern: { Regex: foldLikeOniguruma(regex) }, behavior: 'Isolated' }).pattern as RegExp;
}

interface Component {
  config?: { type?: unknown; individual_digits?: unknown; pattern?: { Regex?: unknown } };
  pattern?: unknown;
  text_decoder?: unknown;
}

/**
 * Makes @huggingface/tokenizers 0.2.0 give the ids and text of the Rust library where it differs on
 * real tokenizers (Llama 3, Qwen2, SmolLM2, TinyLlama, Mistral); test/unit/family-tokenizers.test.ts
 * holds a probe for each. Runs before limitPatternSearches, which wraps the patterns set here.
 */
export function matchRustTokenizers(hf: object): void {
  forEachComponent(hf, (node) => {
    const component = node as Component;
    const type = component.config?.type;
    const regex = component.config?.pattern?.Regex;
    if (typeof regex === 'string' && component.pattern instanceof RegExp && foldLikeOniguruma(regex) !== regex)
      component.pattern = libraryPattern(regex);
    if (type === 'Digits')
      // Rust splits on char::is_numeric (Nd, Nl, No: "½", "①", "٣"); the library on ASCII \d only.
      component.pattern = new RegExp(`[^\\p{N}]+|\\p{N}${component.config?.individual_digits ? '' : '+'}`, 'gu');
    if (type === 'ByteLevel' && component.pattern instanceof RegExp)
      // The library's GPT-2 pattern uses JavaScript's \s, which takes U+FEFF and leaves U+0085 out.
      component.pattern = new RegExp(GPT2_SPLIT);
    if (type === 'ByteFallback')
      // The library's TextDecoder drops a leading U+FEFF and gives one U+FFFD per invalid sequence, not per byte.
      component.text_decoder = rustByteRun;
  });
}
