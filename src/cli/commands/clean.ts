import { parseCommand } from '../args';
import { printJson, info } from '../output';
import { readCorpus } from '../../core/corpus';
import { CleanReport, cleanText, parseCleanRules } from '../../core/clean';
import { CleanStream } from '../../core/clean/clean-stream';
import { writeFileAtomicFrom } from '../../core/atomic-write';
import { checkOutputPath } from '../../core/output-path';
import { streamTextFile } from '../../core/prepared/source-text';

export async function cleanCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('clean', argv);
  const out = options.output as string | undefined;
  if (out) checkOutputPath(out, 'file');
  const rules = parseCleanRules((options.rules as string | undefined) ?? '');
  const path = positionals[0];
  if (options.json && !out) {
    // The cleaned text goes into the JSON, so it is held whole (under readCorpus's limit).
    const { text, report } = cleanText(readCorpus(path).text, rules);
    printJson({ text, report });
    return 0;
  }
  // Otherwise the file is cleaned as it is read, a chunk at a time, whatever its size.
  const cleaned = (write: (text: string) => void): CleanReport => {
    const stream = new CleanStream(rules, write, path);
    streamTextFile(path, (text) => stream.push(text));
    stream.endDocument();
    return stream.report();
  };
  let report!: CleanReport;
  if (out) writeFileAtomicFrom(out, (append) => (report = cleaned(append)));
  else report = cleaned((text) => process.stdout.write(text));
  if (options.json) printJson({ output: out, report });
  else {
    for (const r of report.steps) if (r.count > 0) info(`${r.rule}: ${r.count} (${r.description})`);
    info(
      `${report.charsBefore} → ${report.charsAfter} characters, ${report.linesBefore} → ${report.linesAfter} lines${out ? ` · written to ${out}` : ''}`,
    );
  }
  return 0;
}
