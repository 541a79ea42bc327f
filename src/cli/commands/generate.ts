import { parseCommandArgs, numberFlag, stringFlag, choiceFlag } from '../args';
import { printJson } from '../output';
import { loadModel } from '../../worker/jobs/load-model';
import { generate } from '../../worker/model/generator';
import { validateGenerateOptions, DEFAULT_GENERATE_OPTIONS } from '../../core/generate-options';

const OPTIONS = {
  prompt: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string' },
  backend: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function generateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('generate', argv, OPTIONS, { min: 1, max: 1, names: 'CHECKPOINT_OR_RUN' });
  const prompt = stringFlag(values, 'prompt') ?? '';
  const options = validateGenerateOptions({
    maxTokens: numberFlag(values, 'max-tokens') ?? DEFAULT_GENERATE_OPTIONS.maxTokens,
    temperature: numberFlag(values, 'temperature', 'real') ?? DEFAULT_GENERATE_OPTIONS.temperature,
    topK: numberFlag(values, 'top-k') ?? DEFAULT_GENERATE_OPTIONS.topK,
    topP: numberFlag(values, 'top-p', 'real') ?? DEFAULT_GENERATE_OPTIONS.topP,
    seed: numberFlag(values, 'seed') ?? DEFAULT_GENERATE_OPTIONS.seed,
    stop: values.stop === undefined ? [] : [String(values.stop)],
  });
  const loaded = await loadModel(positionals[0], choiceFlag(values, 'backend', ['auto', 'native', 'wasm', 'cpu', 'tensorflow'] as const));
  try {
    if (values.json) {
      const result = await generate(loaded.model, loaded.tokenizer, prompt, options);
      printJson({ prompt, text: result.text, tokens: result.tokens, stopped_by: result.stoppedBy, ms_per_token: result.msPerToken, checkpoint: loaded.checkpoint });
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
