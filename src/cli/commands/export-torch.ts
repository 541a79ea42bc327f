import { parseCommand } from '../args';
import { printJson, info } from '../output';
import { exportTorch } from '../../core/export-torch/export-torch';

export async function exportTorchCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('export-torch', argv);
  const result = exportTorch(positionals[0], options.output as string);
  if (options.json) {
    printJson({
      dir: result.dir,
      checkpoint: result.checkpoint,
      step: result.step,
      total_steps: result.totalSteps,
      train_tokens: result.trainTokens,
      val_tokens: result.valTokens,
      token_dtype: result.dtype,
    });
  } else {
    info(
      `exported step ${result.step} of ${result.totalSteps} (${result.trainTokens} + ${result.valTokens} tokens, ${result.dtype}) → ${result.dir}`,
    );
    info(`next: copy it to a GPU machine and run  torchrun --nproc_per_node N train.py  there (see ${result.dir}/README.md)`);
  }
  return 0;
}
