import { parseCommand } from '../args';
import { printJson, info } from '../output';
import { exportTorch } from '../../core/export-torch/export-torch';
import { formatBytes } from '../../core/format-bytes';

export async function exportTorchCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('export-torch', argv);
  const result = exportTorch(positionals[0], options.output as string, { withBase: Boolean(options.withBase) });
  const lora = 'base' in result;
  const script = lora ? 'train_peft.py' : 'train.py';
  const data = lora ? { data: result.data, base: result.base } : { data: result.data, token_dtype: result.dtype };
  if (options.json) {
    printJson({
      dir: result.dir,
      checkpoint: result.checkpoint,
      step: result.step,
      total_steps: result.totalSteps,
      train_tokens: result.trainTokens,
      val_tokens: result.valTokens,
      script,
      ...data,
    });
    return 0;
  }
  info(
    `exported step ${result.step} of ${result.totalSteps} (${result.trainTokens} + ${result.valTokens} tokens, ${lora ? result.data : `${result.data}, ${result.dtype}`}) → ${result.dir}`,
  );
  if (lora && !result.base.copied)
    info(
      `the base model (${formatBytes(result.base.bytes)}) is not copied: the GPU machine needs ${result.base.path} (train_peft.py --base DIR), or export with --with-base`,
    );
  info(`next: copy it to a GPU machine and run  torchrun --nproc_per_node N ${script}  there (see ${result.dir}/README.md)`);
  return 0;
}
