import { parentPort, workerData } from 'node:worker_threads';
import { isUserError } from '../core/errors';
import { validateGenerateOptions } from '../core/generate-options';
import { JobResults, WorkerRequest, WorkerResponse, parseWorkerRequest } from './protocol';
import { runTrainJob } from './jobs/train-job';
import { runEstimateJob } from './jobs/estimate-job';
import { exportTorch } from '../core/export-torch/export-torch';
import { ModelCache } from './jobs/model-cache';
import { generate } from './model/generator';
import { attentionMaps, nextToken } from './jobs/inspect-job';
import { documentSurprisal } from './jobs/surprisal-job';
import { runTokenizeJob } from './jobs/tokenize-job';
import { lowerThreadPriority } from './thread-priority';
import { runFinetuneJob } from './jobs/finetune-job';
import { runQuantizeJob } from './jobs/quantize-job';
import { summarizeModel } from './jobs/load-model';
import { mergeAdapter } from '../core/export-folder';
import { recordAdapterBase } from '../core/model-folder';
import { Tokenizer } from '../core/tokenizer';

// Entry of the worker thread: owns TensorFlow.js, runs one job at a time per kind of work.
const port = parentPort;
if (!port) throw new Error('dist/worker.js runs as a worker thread');

const cancelled = new Set<number>();
const models = new ModelCache();
const send = (m: WorkerResponse) => port.postMessage(m);

const nice = (workerData as { nice?: unknown } | undefined)?.nice;
if (typeof nice === 'number' && Number.isInteger(nice) && nice > 0 && nice <= 19) send({ kind: 'log', message: lowerThreadPriority(nice) });

port.on('message', (raw: unknown) => {
  const msg = parseWorkerRequest(raw);
  if (typeof msg === 'string') {
    send({ kind: 'log', message: `ignored a malformed message: ${msg}` });
    return;
  }
  if (msg.kind === 'cancel') {
    cancelled.add(msg.id);
    return;
  }
  run(msg)
    .then(
      (value) => send({ kind: 'result', id: msg.id, value }),
      (e: unknown) =>
        send({
          kind: 'error',
          id: msg.id,
          message: e instanceof Error ? e.message : String(e),
          parts: isUserError(e) ? e.parts : undefined,
        }),
    )
    .finally(() => cancelled.delete(msg.id));
});

async function run(msg: Exclude<WorkerRequest, { kind: 'cancel' }>): Promise<JobResults[keyof JobResults]> {
  const isCancelled = () => cancelled.has(msg.id);
  switch (msg.kind) {
    case 'train':
      return runTrainJob(
        msg.request,
        (event) => send({ kind: 'event', id: msg.id, event }),
        isCancelled,
        (message) => send({ kind: 'log', message }),
      );
    case 'generate': {
      const options = validateGenerateOptions(msg.options);
      // Let queued messages in first: under fast typing the cancel for this request often is
      // already waiting, and a stale request should cost nothing.
      await new Promise((r) => setImmediate(r));
      if (isCancelled()) return { text: '', ids: [], tokens: 0, stoppedBy: 'cancelled', msPerToken: 0 };
      return models.use(msg.checkpoint, (loaded) =>
        generate(loaded.model, loaded.tokenizer, msg.prompt, options, (text) => send({ kind: 'text', id: msg.id, text }), isCancelled),
      );
    }
    case 'estimate':
      // A char corpus is prepared for its estimate: the preset pick shows how far, and can stop it.
      return runEstimateJob(msg.request, {
        shouldStop: isCancelled,
        onProgress: (p) => send({ kind: 'event', id: msg.id, event: { type: 'prepare', ...p } }),
      });
    case 'next':
      return models.use(msg.checkpoint, (loaded) => nextToken(loaded, msg.request));
    case 'attention':
      return models.use(msg.checkpoint, (loaded) => attentionMaps(loaded, msg.prompt));
    case 'export-torch':
      return exportTorch(msg.source, msg.outDir, { withBase: msg.withBase });
    case 'finetune':
      return runFinetuneJob(
        msg.request,
        (event) => send({ kind: 'event', id: msg.id, event }),
        isCancelled,
        (message) => send({ kind: 'log', message }),
      );
    case 'open-model':
      if (msg.base !== undefined) recordAdapterBase(msg.path, msg.base);
      return models.use(msg.path, async (loaded) => summarizeModel(loaded));
    case 'merge':
      return mergeAdapter(msg.adapter, msg.outDir, (json) => Tokenizer.fromJSON(json).kind);
    case 'quantize':
      return runQuantizeJob({ checkpoint: msg.checkpoint, out: msg.outDir, scheme: 'channel', textFile: msg.textFile });
    case 'surprisal':
      return models.use(msg.checkpoint, (loaded) => documentSurprisal(loaded, msg.text));
    case 'tokenize':
      return runTokenizeJob(msg.request);
  }
}
