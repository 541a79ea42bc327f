import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommand } from '../args';
import { printJson } from '../output';
import { TrainProgress } from '../progress';
import { runTrainJob, TrainRequest } from '../../worker/jobs/train-job';
import { UserError } from '../../core/errors';
import { resolveCheckpoint } from '../../core/checkpoint';
import { runOfCheckpoint } from '../../core/run-json';
import { cleaningOf } from '../options';

/** The sample `corpus-lab train` uses when no file is given (shipped in media/samples). */
export function bundledSample(): string {
  for (const dir of [join(__dirname, '..', 'media', 'samples'), join(__dirname, '..', '..', '..', 'media', 'samples')]) {
    const file = join(dir, 'shakespeare.txt');
    if (existsSync(file)) return file;
  }
  throw new UserError('no FILE given and the bundled sample is missing: pass a text file to train on');
}

/** `train --resume RUN` without FILE continues on the text the run was trained on, as its run.json names it. */
function recordedCorpus(resume: string): string {
  const owner = runOfCheckpoint(resolveCheckpoint(resume), true);
  if (!owner)
    throw new UserError('{0} is not in a run folder that names its corpus (no run.json): pass FILE, the text it was trained on', resume);
  return owner.run.corpus.path;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseCommand('train', argv);
  const { output, json, clean, rules, ...rest } = options as Omit<TrainRequest, 'corpusPath' | 'runDir' | 'clean'> & {
    output?: string;
    json?: boolean;
    clean?: boolean;
    rules?: string;
  };
  const corpusPath = positionals[0] ?? (rest.resume ? recordedCorpus(rest.resume) : bundledSample());
  const req: TrainRequest = { ...rest, ...cleaningOf(clean, rules), corpusPath, runDir: output };
  const progress = new TrainProgress();
  const emit = json ? printJson : (e: Parameters<TrainProgress['onEvent']>[0]) => progress.onEvent(e);
  return whileHandlingSigint(async (shouldStop) => ((await runTrainJob(req, emit, shouldStop)).reason === 'cancelled' ? 130 : 0));
}

/** Runs a training job; the first Ctrl-C asks it to stop at a checkpoint, a second one quits. */
export async function whileHandlingSigint(run: (shouldStop: () => boolean) => Promise<number>): Promise<number> {
  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130); // a second Ctrl-C: the checkpoint write in flight is atomic
    stopRequested = true;
    process.stderr.write('\nstopping: writing a checkpoint (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  try {
    return await run(() => stopRequested);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
