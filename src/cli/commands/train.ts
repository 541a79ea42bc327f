import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandArgs, numberFlag, choiceFlag, stringFlag } from '../args';
import { printJson } from '../output';
import { TrainProgress } from '../progress';
import { runTrainJob, TrainRequest } from '../../worker/jobs/train-job';
import { UserError } from '../../core/errors';

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  preset: { type: 'string' },
  layers: { type: 'string' },
  heads: { type: 'string' },
  width: { type: 'string' },
  context: { type: 'string' },
  batch: { type: 'string' },
  tokenizer: { type: 'string' },
  'vocab-size': { type: 'string' },
  norm: { type: 'string' },
  dropout: { type: 'string' },
  epochs: { type: 'string' },
  'max-steps': { type: 'string' },
  lr: { type: 'string' },
  'eval-every': { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  resume: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** The sample `corpus-lab train` uses when no file is given (shipped in media/samples). */
export function bundledSample(): string {
  for (const dir of [join(__dirname, '..', 'media', 'samples'), join(__dirname, '..', '..', '..', 'media', 'samples')]) {
    const file = join(dir, 'shakespeare.txt');
    if (existsSync(file)) return file;
  }
  throw new UserError('no FILE given and the bundled sample is missing: pass a text file to train on');
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('train', argv, OPTIONS, { min: 0, max: 1, names: 'FILE' });
  const corpusPath = positionals[0] ?? bundledSample();
  const req: TrainRequest = {
    corpusPath,
    runDir: stringFlag(values, 'output'),
    preset: stringFlag(values, 'preset'),
    layers: numberFlag(values, 'layers'),
    heads: numberFlag(values, 'heads'),
    width: numberFlag(values, 'width'),
    context: numberFlag(values, 'context'),
    batch: numberFlag(values, 'batch'),
    tokenizer: choiceFlag(values, 'tokenizer', ['char', 'bpe'] as const),
    vocabSize: numberFlag(values, 'vocab-size'),
    norm: choiceFlag(values, 'norm', ['layernorm', 'dyt'] as const),
    dropout: numberFlag(values, 'dropout', 'real'),
    epochs: numberFlag(values, 'epochs'),
    maxSteps: numberFlag(values, 'max-steps'),
    lr: numberFlag(values, 'lr', 'real'),
    evalEvery: numberFlag(values, 'eval-every'),
    seed: numberFlag(values, 'seed'),
    backend: choiceFlag(values, 'backend', ['auto', 'native', 'wasm', 'cpu', 'tensorflow'] as const),
    threads: numberFlag(values, 'threads'),
    resume: stringFlag(values, 'resume'),
  };
  if (req.resume && req.runDir) throw new UserError('train: --resume continues in the run folder it names; leave out -o');
  const progress = new TrainProgress();
  const emit = values.json ? printJson : (e: Parameters<TrainProgress['onEvent']>[0]) => progress.onEvent(e);

  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130); // a second Ctrl-C: the checkpoint write in flight is atomic
    stopRequested = true;
    process.stderr.write('\nstopping: writing a checkpoint (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await runTrainJob(req, emit, () => stopRequested);
    return result.reason === 'cancelled' ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
