import type { Message } from '../core/errors';

// Korean particles depend on the sound that ends the word before them: 을/를, 이/가, 은/는, 과/와,
// 으로/로. A translation writes both forms ("{0}을(를)"); once the word is in, one is chosen.
const PAIRS: Record<string, [withFinal: string, withoutFinal: string]> = {
  '을(를)': ['을', '를'],
  '이(가)': ['이', '가'],
  '은(는)': ['은', '는'],
  '과(와)': ['과', '와'],
  '(으)로': ['으로', '로'],
};
const PARTICLE = /(.)(을\(를\)|이\(가\)|은\(는\)|과\(와\)|\(으\)로)/gu;

/** Final consonant of how a character is read: 'none', 'rieul' (ㄹ, takes 로) or 'other'. */
function finalSound(ch: string): 'none' | 'rieul' | 'other' {
  const code = ch.codePointAt(0)!;
  if (code >= 0xac00 && code <= 0xd7a3) {
    const final = (code - 0xac00) % 28;
    return final === 0 ? 'none' : final === 8 ? 'rieul' : 'other';
  }
  // Digits as read in Sino-Korean: 영 일 이 삼 사 오 육 칠 팔 구.
  const digit = '0123456789'.indexOf(ch);
  if (digit >= 0) return (['other', 'rieul', 'none', 'other', 'none', 'none', 'other', 'rieul', 'rieul', 'none'] as const)[digit];
  // Latin letters as their names are read: 엘, 알 end in ㄹ; 엠, 엔 in another consonant.
  const letter = ch.toLowerCase();
  if (letter === 'l' || letter === 'r') return 'rieul';
  if (letter === 'm' || letter === 'n') return 'other';
  return 'none';
}

/** Picks each "을(를)"-style particle for the word it follows. Text without such pairs is returned as is. */
export function withParticles(text: string): string {
  return text.replace(PARTICLE, (_, before: string, pair: string) => {
    const sound = finalSound(before);
    const [withFinal, withoutFinal] = PAIRS[pair];
    const useFinal = pair === '(으)로' ? sound === 'other' : sound !== 'none';
    return before + (useFinal ? withFinal : withoutFinal);
  });
}

/**
 * A core message (a UserError's parts) in the UI language: `translate` fills a template's translation
 * with its arguments (vscode.l10n.t in the extension); parts that are messages are translated first.
 */
export function renderMessage(m: Message, translate: (template: string, args: string[]) => string): string {
  const text = (x: Message): string =>
    translate(
      x.template,
      x.args.map((a) => (typeof a === 'object' ? text(a) : String(a))),
    );
  return withParticles(text(m));
}
