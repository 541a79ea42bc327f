import { parseCommand } from '../args';
import { printJson, info } from '../output';
import { readCorpus } from '../../core/corpus';
import { cleanText, parseCleanRules } from '../../core/clean';
import { writeFileAtomic } from '../../core/atomic-write';
import { checkOutputPath } from '../../core/output-path';

export async function cleanCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('clean', argv);
  const out = options.output as string | undefined;
  if (out) checkOutputPath(out, 'file');
  const { text, report } = cleanText(readCorpus(positionals[0]).text, parseCleanRules((options.rules as string | undefined) ?? ''));
  if (out) writeFileAtomic(out, text);
  if (options.json) printJson(out ? { output: out, report } : { text, report });
  else {
    if (!out) process.stdout.write(text);
    for (const r of report.steps) if (r.count > 0) info(`${r.rule}: ${r.count} (${r.description})`);
    info(
      `${report.charsBefore} → ${report.charsAfter} characters, ${report.linesBefore} → ${report.linesAfter} lines${out ? ` · written to ${out}` : ''}`,
    );
  }
  return 0;
}
