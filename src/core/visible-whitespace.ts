/**
 * Whitespace made visible in token views, so a token that is only a space or a line break can be
 * seen: a space as ␣, not ·, which is a character of its own (Korean writes 3·1운동 with it).
 * `keepLineBreaks` keeps the line break after its ↵, for views that show running text.
 */
export function visibleWhitespace(text: string, keepLineBreaks = false): string {
  return text
    .replace(/ /g, '␣')
    .replace(/\n/g, keepLineBreaks ? '↵\n' : '↵')
    .replace(/\t/g, '→');
}
