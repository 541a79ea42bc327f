import { parseCommand } from '../args';
import type { BackendChoice } from '../../worker/engine/backend';
import { printJson } from '../output';
import { loadModel } from '../../worker/jobs/load-model';
import { generate } from '../../worker/model/generator';
import { GenerateOptions, validateGenerateOptions, DEFAULT_GENERATE_OPTIONS } from '../../core/generate-options';
import { UserError } from '../../core/errors';
import { chatPrompt, requireChatTemplate } from '../../core/chat-prompt';

export async function generateCommand(argv: string[]): Promise<number> {
  const { options: flags, positionals } = parseCommand('generate', argv);
  const {
    prompt: plainPrompt,
    chat: question,
    system,
    stop,
    base,
    backend,
    json,
    ...sampling
  } = flags as Partial<Omit<GenerateOptions, 'stop'>> & {
    prompt?: string;
    chat?: string;
    system?: string;
    stop?: string;
    base?: string;
    backend?: BackendChoice;
    json?: boolean;
  };
  if (question !== undefined && plainPrompt !== undefined)
    throw new UserError('--chat and --prompt both give the text to start from: use one');
  if (system !== undefined && question === undefined) throw new UserError('--system goes with --chat QUESTION');
  const options = validateGenerateOptions({ ...DEFAULT_GENERATE_OPTIONS, ...sampling, stop: stop === undefined ? [] : [stop] });
  const loaded = await loadModel(positionals[0], backend, base);
  try {
    let prompt = plainPrompt ?? '';
    if (question !== undefined) {
      const asked = chatPrompt(requireChatTemplate(loaded.checkpoint, base), question, system);
      prompt = asked.prompt;
      options.stop = [...options.stop, ...asked.stops];
    }
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
      // A chat answer is printed alone: the template's markup around it is not the model's words.
      if (question === undefined) process.stdout.write(prompt);
      await generate(loaded.model, loaded.tokenizer, prompt, options, (t) => process.stdout.write(t));
      process.stdout.write('\n');
    }
  } finally {
    loaded.model.dispose();
  }
  return 0;
}
