import { parseCommand } from '../args';
import type { BackendChoice } from '../../worker/engine/backend';
import { printJson } from '../output';
import { loadModel } from '../../worker/jobs/load-model';
import { generate } from '../../worker/model/generator';
import { GenerateOptions, validateGenerateOptions, DEFAULT_GENERATE_OPTIONS } from '../../core/generate-options';

export async function generateCommand(argv: string[]): Promise<number> {
  const { options: flags, positionals } = parseCommand('generate', argv);
  const {
    prompt = '',
    stop,
    base,
    backend,
    json,
    ...sampling
  } = flags as Partial<Omit<GenerateOptions, 'stop'>> & {
    prompt?: string;
    stop?: string;
    base?: string;
    backend?: BackendChoice;
    json?: boolean;
  };
  const options = validateGenerateOptions({ ...DEFAULT_GENERATE_OPTIONS, ...sampling, stop: stop === undefined ? [] : [stop] });
  const loaded = await loadModel(positionals[0], backend, base);
  try {
    if (json) {
      const result = await generate(loaded.model, loaded.tokenizer, prompt, options);
      printJson({
        prompt,
        text: result.text,
        tokens: result.tokens,
        stopped_by: result.stoppedBy,
        ms_per_token: result.msPerToken,
        checkpoint: loaded.checkpoint,
      });
    } else {
      process.stdout.write(prompt);
      await generate(loaded.model, loaded.tokenizer, prompt, options, (t) => process.stdout.write(t));
      process.stdout.write('\n');
    }
  } finally {
    loaded.model.dispose();
  }
  return 0;
}
