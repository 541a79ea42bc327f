import { Message, isMessage } from '../core/errors';
import { isObject } from '../core/json';
import { TrainEvent } from '../core/train-events';
import { GenerateOptions } from '../core/generate-options';
import type { TrainRequest } from './jobs/train-job';
import type { EstimateRequest, EstimateResult } from './jobs/estimate-job';
import type { TrainResult } from './train/trainer';
import type { GenerateResult } from './model/generator';
import type { BackendChoice } from './engine/backend';
import type { NextRequest, NextResult, AttentionResult } from './jobs/inspect-job';
import type { TorchExport } from '../core/export-torch/export-torch';
import type { LoraExport } from '../core/export-torch/lora-export';
import type { FinetuneRequest } from './jobs/finetune-job';
import type { QuantizeReport } from './jobs/quantize-job';
import type { ModelSummary } from './jobs/load-model';
import type { MergeResult } from '../core/export-folder';
import type { SurprisalResult } from './jobs/surprisal-job';
import type { TokenizeRequest, TokenizeResult } from './jobs/tokenize-job';

// The extension (and anything else talking to a worker) imports its types from here only.
export type { TrainRequest, TrainResult, EstimateRequest, EstimateResult, GenerateResult, GenerateOptions, BackendChoice, TorchExport };
export type { NextRequest, NextResult, AttentionResult, SurprisalResult };
export type { FinetuneRequest, QuantizeReport, ModelSummary, MergeResult, TokenizeRequest, TokenizeResult };

/** What each kind of request answers with. */
export interface JobResults {
  train: TrainResult;
  generate: GenerateResult;
  estimate: EstimateResult;
  next: NextResult;
  attention: AttentionResult;
  'export-torch': TorchExport | LoraExport;
  finetune: TrainResult;
  'open-model': ModelSummary;
  merge: MergeResult;
  quantize: QuantizeReport;
  surprisal: SurprisalResult;
  tokenize: TokenizeResult;
}

/**
 * Messages between the extension host (or CLI) and a worker thread. Every message carries the id
 * of the job it belongs to; the receiver validates the shape before acting on it.
 */
export type WorkerRequest =
  | { kind: 'train'; id: number; request: TrainRequest }
  | { kind: 'generate'; id: number; checkpoint: string; prompt: string; options: GenerateOptions }
  | { kind: 'estimate'; id: number; request: EstimateRequest }
  | { kind: 'next'; id: number; checkpoint: string; request: NextRequest }
  | { kind: 'attention'; id: number; checkpoint: string; prompt: string }
  | { kind: 'export-torch'; id: number; source: string; outDir: string; withBase?: boolean }
  | { kind: 'finetune'; id: number; request: FinetuneRequest }
  /** Loads a model folder with the real loader (and keeps it cached for what follows): its summary. */
  /** base: for a LoRA adapter that does not record it, the base the user chose (recorded in the adapter's folder). */
  | { kind: 'open-model'; id: number; path: string; base?: string }
  | { kind: 'merge'; id: number; adapter: string; outDir: string }
  | { kind: 'quantize'; id: number; checkpoint: string; outDir: string; textFile?: string }
  | { kind: 'surprisal'; id: number; checkpoint: string; text: string }
  | { kind: 'tokenize'; id: number; request: TokenizeRequest }
  | { kind: 'cancel'; id: number };

export type WorkerResponse =
  | { kind: 'event'; id: number; event: TrainEvent }
  | { kind: 'text'; id: number; text: string }
  | { kind: 'result'; id: number; value: JobResults[keyof JobResults] }
  /** `message` is English (for logs); `parts`, only on a UserError, is what the extension translates. */
  | { kind: 'error'; id: number; message: string; parts?: Message }
  | { kind: 'log'; message: string };

const isId = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** Returns the request, or a reason it is malformed. */
export function parseWorkerRequest(msg: unknown): WorkerRequest | string {
  if (!isObject(msg)) return 'message is not an object';
  if (!isId(msg.id)) return 'message has no valid id';
  switch (msg.kind) {
    case 'train':
      return isObject(msg.request) && typeof msg.request.corpusPath === 'string'
        ? (msg as WorkerRequest)
        : 'train needs request.corpusPath';
    case 'generate':
      return typeof msg.checkpoint === 'string' && typeof msg.prompt === 'string' && isObject(msg.options)
        ? (msg as WorkerRequest)
        : 'generate needs checkpoint, prompt and options';
    case 'estimate':
      return isObject(msg.request) && typeof msg.request.corpusPath === 'string'
        ? (msg as WorkerRequest)
        : 'estimate needs request.corpusPath';
    case 'next':
      return typeof msg.checkpoint === 'string' && isObject(msg.request) && typeof msg.request.prompt === 'string'
        ? (msg as WorkerRequest)
        : 'next needs checkpoint and request.prompt';
    case 'attention':
      return typeof msg.checkpoint === 'string' && typeof msg.prompt === 'string'
        ? (msg as WorkerRequest)
        : 'attention needs checkpoint and prompt';
    case 'export-torch':
      return typeof msg.source === 'string' &&
        typeof msg.outDir === 'string' &&
        (msg.withBase === undefined || typeof msg.withBase === 'boolean')
        ? (msg as WorkerRequest)
        : 'export-torch needs source and outDir';
    case 'finetune':
      return isObject(msg.request) && typeof msg.request.basePath === 'string' && typeof msg.request.corpusPath === 'string'
        ? (msg as WorkerRequest)
        : 'finetune needs request.basePath and request.corpusPath';
    case 'open-model':
      return typeof msg.path === 'string' && (msg.base === undefined || typeof msg.base === 'string')
        ? (msg as WorkerRequest)
        : 'open-model needs path';
    case 'merge':
      return typeof msg.adapter === 'string' && typeof msg.outDir === 'string' ? (msg as WorkerRequest) : 'merge needs adapter and outDir';
    case 'quantize':
      return typeof msg.checkpoint === 'string' &&
        typeof msg.outDir === 'string' &&
        (msg.textFile === undefined || typeof msg.textFile === 'string')
        ? (msg as WorkerRequest)
        : 'quantize needs checkpoint and outDir';
    case 'surprisal':
      return typeof msg.checkpoint === 'string' && typeof msg.text === 'string'
        ? (msg as WorkerRequest)
        : 'surprisal needs checkpoint and text';
    case 'tokenize':
      return isObject(msg.request) &&
        typeof msg.request.corpusPath === 'string' &&
        typeof msg.request.outFile === 'string' &&
        (msg.request.tokenizer === 'char' || msg.request.tokenizer === 'bpe') &&
        (msg.request.vocabSize === undefined || Number.isInteger(msg.request.vocabSize))
        ? (msg as WorkerRequest)
        : 'tokenize needs request.corpusPath, request.outFile and request.tokenizer (char or bpe)';
    case 'cancel':
      return msg as WorkerRequest;
    default:
      return `unknown message kind ${JSON.stringify(msg.kind)}`;
  }
}

/** Returns the response, or a reason it is malformed. */
export function parseWorkerResponse(msg: unknown): WorkerResponse | string {
  if (!isObject(msg)) return 'message is not an object';
  if (msg.kind === 'log') return typeof msg.message === 'string' ? (msg as WorkerResponse) : 'log needs message';
  if (!isId(msg.id)) return 'message has no valid id';
  switch (msg.kind) {
    case 'event':
      return isObject(msg.event) && typeof msg.event.type === 'string' ? (msg as WorkerResponse) : 'event needs event.type';
    case 'text':
      return typeof msg.text === 'string' ? (msg as WorkerResponse) : 'text needs text';
    case 'result':
      return msg as WorkerResponse;
    case 'error':
      if (typeof msg.message !== 'string') return 'error needs message';
      return msg.parts === undefined || isMessage(msg.parts) ? (msg as WorkerResponse) : 'error parts is not a message';
    default:
      return `unknown message kind ${JSON.stringify(msg.kind)}`;
  }
}
