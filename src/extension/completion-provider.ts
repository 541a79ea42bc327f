import * as vscode from 'vscode';
import { Ctx, modelName } from './ctx';
import { WorkerError } from './worker-client';
import { MOSTLY_UNKNOWN } from '../core/model-choice';

// Characters of text before the cursor sent as the prompt: enough for any context we train
// (the worker keeps the last `context` tokens of it).
const PROMPT_CHARS = 2000;
// Characters before the cursor checked against the model's tokenizer: about what a small model's
// context holds, so a Korean paragraph after English ones is judged as Korean.
const CONTEXT_CHECK_CHARS = 256;
// A model trained on a text with Windows line breaks writes "\r" before each "\n": VS Code breaks
// ghost text at either, so one-line ghost text stops at both.
const LINE_BREAKS = ['\n', '\r'];

/** Ghost text from the model serving the document while the user types. */
export class CompletionProvider implements vscode.InlineCompletionItemProvider {
  /** Latency of the last completions, ms from request to result (for the status line and benchmarks). */
  readonly latencies: number[] = [];
  private inFlight?: number;
  /** Document and model pairs whose silence the log has explained already. */
  private readonly explained = new Set<string>();

  constructor(private readonly ctx: Ctx) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    _context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const { config } = this.ctx;
    if (!config.completionEnabled || !config.completionLanguages.includes(document.languageId)) return undefined;
    if (!(await sleep(config.debounceMs, token))) return undefined;
    const model = (await this.ctx.serving.forDocument(document))?.model;
    if (!model || token.isCancellationRequested || !(await this.ctx.mayLoadModelFrom(model))) return undefined;

    const start = document.offsetAt(position);
    const prompt = document.getText(new vscode.Range(document.positionAt(Math.max(0, start - PROMPT_CHARS)), position));
    const unknown = await this.ctx.serving.unknownShare(model, prompt.slice(-CONTEXT_CHECK_CHARS));
    if (unknown !== undefined && unknown >= MOSTLY_UNKNOWN) {
      const key = `${document.uri.toString()} ${model}`;
      if (!this.explained.has(key)) {
        this.explained.add(key);
        this.ctx.log.appendLine(
          `no completion in ${document.uri.toString()}: ${Math.round(unknown * 100)}% of the letters before the cursor are unknown to the tokenizer of ${modelName(model)} (the limit is ${MOSTLY_UNKNOWN * 100}%); choose a model for this file from the status bar`,
        );
      }
      return undefined;
    }
    // A newer request replaces an older one: the worker drops the stale job between tokens.
    if (this.inFlight !== undefined) this.ctx.inference.cancel(this.inFlight);
    const began = performance.now();
    const job = this.ctx.inference.request((id) => ({
      kind: 'generate',
      id,
      checkpoint: model,
      prompt,
      options: {
        temperature: config.temperature,
        topK: config.topK,
        topP: config.topP,
        maxTokens: config.maxTokens,
        seed: (start * 2654435761) >>> 0,
        stop: config.stopAtNewline ? LINE_BREAKS : [],
      },
    }));
    this.inFlight = job.id;
    const cancel = token.onCancellationRequested(() => this.ctx.inference.cancel(job.id));
    try {
      const result = await job.result;
      if (token.isCancellationRequested || result.stoppedBy === 'cancelled' || result.text.length === 0) return undefined;
      this.latencies.push(performance.now() - began);
      if (this.latencies.length > 200) this.latencies.shift();
      return [new vscode.InlineCompletionItem(result.text, new vscode.Range(position, position))];
    } catch (e) {
      if (!(e instanceof WorkerError && e.userError)) this.ctx.log.appendLine(`completion: ${(e as Error).message}`);
      else {
        this.ctx.log.appendLine(`completion unavailable: ${(e as Error).message}`);
        void this.ctx.checkActiveModel();
      }
      return undefined;
    } finally {
      cancel.dispose();
      if (this.inFlight === job.id) this.inFlight = undefined;
    }
  }
}

/** Waits `ms`; false if the request was cancelled meanwhile (the user typed on). */
function sleep(ms: number, token: vscode.CancellationToken): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(!token.isCancellationRequested);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sub.dispose();
      resolve(!token.isCancellationRequested);
    }, ms);
    const sub = token.onCancellationRequested(() => {
      clearTimeout(timer);
      sub.dispose();
      resolve(false);
    });
  });
}
