import { parseCommandArgs, stringFlag } from '../args';
import { printJson, info } from '../output';
import { readCorpus } from '../../core/corpus';
import { cleanText, parseCleanRules } from '../../core/clean';
import { writeFileAtomic } from '../../core/atomic-write';

const OPTIONS = { output: { type: 'string', short: 'o' }, rules: { type: 'string' }, json: { type: 'boolean' } } as const;

export async function cleanCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('clean', argv, OPTIONS, { min: 1, max: 1, names: 'FILE' });
  const options = parseCleanRules(stringFlag(values, 'rules') ?? '');
  const { text, report } = cleanText(readCorpus(positionals[0]).text, options);
  const out = stringFlag(values, 'output');
  if (out) writeFileAtomic(out, text);
  if (values.json) printJson(out ? { output: out, report } : { text, report });
  else {
    if (!out) process.stdout.write(text);
    for (const r of report.steps) if (r.count > 0) info(`${r.rule}: ${r.count} (${r.description})`);
    info(`${report.charsBefore} → ${report.charsAfter} characters, ${report.linesBefore} → ${report.linesAfter} lines${out ? ` · written to ${out}` : ''}`);
  }
  return 0;
}
