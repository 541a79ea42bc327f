// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Replacer = (match: string, ...groups: any[]) => string;

/** String.replace that also returns how many matches were replaced. */
export function replaceCounted(text: string, re: RegExp, replacement: string | Replacer): [string, number] {
  let count = 0;
  const out = text.replace(re, (match: string, ...rest: unknown[]) => {
    count++;
    return typeof replacement === 'string' ? replacement : replacement(match, ...rest);
  });
  return [out, count];
}
