// The message templates of UserError and message() in src (shared by the unit and integration l10n tests).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Each template once; `nonLiteral` lists calls whose template is not a string literal (it could not be translated). */
export function errorTemplates(repo: string): { templates: Set<string>; nonLiteral: string[] } {
  const templates = new Set<string>();
  const nonLiteral: string[] = [];
  for (const file of sourceFiles(join(repo, 'src'))) {
    if (file.endsWith(join('core', 'errors.ts'))) continue;
    const text = readFileSync(file, 'utf8');
    for (const call of text.matchAll(/(?:new UserError|(?<![.\w])message)\(\s*/g)) {
      const rest = text.slice(call.index + call[0].length);
      const literal = /^(['"])((?:(?!\1)[^\\]|\\.)*)\1/.exec(rest);
      if (literal) templates.add(literal[2].replace(/\\(['"\\])/g, '$1'));
      else nonLiteral.push(`${file}: ${call[0]}${rest.slice(0, 40)}…`);
    }
  }
  return { templates, nonLiteral };
}
