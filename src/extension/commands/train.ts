import * as vscode from 'vscode';
import { dataSummary, previewText } from '../../core/sft-preview';
import { readFile, stat } from 'node:fs/promises';
import { readRegularFileAsync } from '../../core/safe-fs';
import { createHash } from 'node:crypto';
import { basename, dirname, extname, join } from 'node:path';
import { Ctx, modelName } from '../ctx';
import { WorkerError } from '../worker-client';
import type { EstimateResult, FinetuneRequest, TrainRequest, TrainResult } from '../../worker/protocol';
import { formatBytes } from '../../core/format-bytes';
import { TrainEvent } from '../../core/train-events';
import { checkTextFile, coreValidation, isFolder, resolveTarget, showError } from './util';
import { RunJson, parseRunJson } from '../../core/run-json';
import { parseTrainerState, resolveCheckpointAsync } from '../../core/checkpoint';
import { withParticles } from '../l10n';
import { Arch, presetNamed, validateModelConfig, withArch } from '../../core/model-config';
import { DEFAULT_TRAIN_OPTIONS, MAX_STEPS, validateTrainOptions } from '../../core/train-options';
import { MIN_BPE_VOCAB } from '../../core/tokenizer';
import { askVocabSize, pickTokenizerKind } from './tokenize';
import { documentsBytes } from '../../core/documents';
import { requireChatTemplate } from '../../core/chat-prompt';

type Preset = 'tiny' | 'small';

/** What the pick decides: a preset (GPT-2 or Llama blocks) and, for a quick or custom run, what differs from its defaults. */
type RunChoice = { preset: Preset; arch?: Arch } & Partial<
  Pick<TrainRequest, 'maxSteps' | 'epochs' | 'lr' | 'batch' | 'context' | 'tokenizer' | 'vocabSize'>
>;
import { describeEngine } from '../engine-label';
import { FileVerdict, FollowBestCheckpoint, isOverfitNotice, overfitAdvice, overfitLine } from '../training-habits';
import { bitsPerByte } from '../../core/model-choice';
import { errorText } from '../error-text';
import { etaSeconds } from '../../core/duration';
import { formatSeconds } from '../seconds-text';
import { PreparationNotification, prepareLine } from './preparation-progress';

export { formatSeconds };

interface PresetItem extends vscode.QuickPickItem {
  choice?: RunChoice;
  custom?: true;
}

/** A quick run: the tiny model for this many steps — enough to see completions take shape. */
export const QUICK_RUN_STEPS = 150;

/** Train Model on This File: pick a preset (with this corpus's size, time and memory), then train in the worker. */
export function trainCommand(ctx: Ctx) {
  return async (uri?: vscode.Uri, options?: { preset?: 'tiny' | 'small'; arch?: Arch; maxSteps?: number; epochs?: number }) => {
    const target = await resolveTarget(uri);
    if (!target) return;
    if (ctx.training) {
      vscode.window.showWarningMessage(
        vscode.l10n.t(
          'A training run is already in progress ({0}). Cancel it first, or wait for it to finish.',
          basename(ctx.training.corpus.fsPath),
        ),
      );
      return;
    }
    if (!(await isDocumentCorpus(target.fsPath))) {
      const refused = await checkTextFile(ctx, target);
      if (refused) return refused;
    }
    const choice: RunChoice | undefined = options?.preset ? { preset: options.preset, arch: options.arch } : await pickPreset(ctx, target);
    if (!choice) return;
    const length =
      choice.maxSteps !== undefined || choice.epochs !== undefined
        ? {}
        : { maxSteps: options?.maxSteps ?? ctx.config.maxSteps, epochs: options?.epochs ?? ctx.config.epochs };
    return startTraining(ctx, target, {
      tokenizer: ctx.config.tokenizer,
      clean: ctx.config.trainingClean,
      ...choice,
      ...length,
      corpusPath: target.fsPath,
      runsRoot: ctx.runsRoot(),
    });
  };
}

/**
 * A folder of documents or a .jsonl of texts: the worker checks it as it prepares it (a document or
 * a line at a time) and says what is wrong in one line, as the CLI does.
 */
async function isDocumentCorpus(path: string): Promise<boolean> {
  return extname(path).toLowerCase() === '.jsonl' || isFolder(path);
}

/** The corpus's bytes of text (a folder's documents together); 0 when it cannot be read, which the run then says. */
async function corpusBytes(path: string): Promise<number> {
  try {
    return (await isFolder(path)) ? await documentsBytes(path) : (await stat(path)).size;
  } catch {
    return 0;
  }
}

/**
 * Resume Training: continue a run (or checkpoint) from where it stopped, on its own corpus. When
 * that file changed since (the walkthrough has the user type in it), asks: continue on the changed
 * text, or train a new model on it. `options.onChangedCorpus` answers for tests.
 */
export function resumeCommand(ctx: Ctx) {
  return async (item?: { path?: string } | vscode.Uri, options?: { onChangedCorpus?: 'continue' | 'new'; moreSteps?: number }) => {
    const path = item instanceof vscode.Uri ? item.fsPath : (item?.path ?? ctx.activeModel);
    if (!path) {
      vscode.window.showInformationMessage(vscode.l10n.t('Choose a run in the Runs view to resume.'));
      return;
    }
    if (ctx.training) {
      vscode.window.showWarningMessage(
        vscode.l10n.t(
          'A training run is already in progress ({0}). Cancel it first, or wait for it to finish.',
          basename(ctx.training.corpus.fsPath),
        ),
      );
      return;
    }
    const run = await readRunOf(path);
    if (!run) {
      vscode.window.showErrorMessage(
        vscode.l10n.t('Cannot resume {0}: its run.json does not say which file it was trained on.', basename(path)),
      );
      return;
    }
    const { corpus } = run;
    // A run at the end of its plan trains on only for steps the user adds.
    const step = await checkpointStep(path);
    let longer: Pick<TrainRequest, 'maxSteps' | 'epochs'> = {};
    if (step !== undefined && step >= run.plan.totalSteps) {
      const more = options?.moreSteps ?? (await askMoreSteps(basename(corpus.path), step, run.plan.totalSteps));
      if (more === undefined) return;
      longer = { maxSteps: step + more, epochs: Math.ceil((step + more) / run.plan.stepsPerEpoch) };
    }
    const target = vscode.Uri.file(corpus.path);
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
    if (doc?.isDirty) await doc.save();
    let continueOnChangedCorpus = false;
    const current = await readFile(corpus.path).then(
      (b) => createHash('sha256').update(b).digest('hex'),
      () => undefined,
    );
    if (current !== undefined && current !== corpus.sha256) {
      const goOn = vscode.l10n.t('Continue on Changed Text');
      const anew = vscode.l10n.t('Train New Model');
      const answer =
        options?.onChangedCorpus === 'continue'
          ? goOn
          : options?.onChangedCorpus === 'new'
            ? anew
            : await vscode.window.showWarningMessage(
                vscode.l10n.t('{0} has changed since this run was trained on it.', basename(corpus.path)),
                {
                  modal: true,
                  detail: vscode.l10n.t(
                    'Continue from this checkpoint on the changed text (a new epoch starts on it), or train a new model on the file as it is now.',
                  ),
                },
                goOn,
                anew,
              );
      if (answer === anew) return vscode.commands.executeCommand('corpusLab.train', target);
      if (answer !== goOn) return;
      continueOnChangedCorpus = true;
    }
    return startTraining(ctx, target, { corpusPath: corpus.path, resume: path, continueOnChangedCorpus, ...longer });
  };
}

/** The step of the checkpoint `path` names (a run: its newest), undefined when it cannot be read. */
async function checkpointStep(path: string): Promise<number | undefined> {
  try {
    const dir = await resolveCheckpointAsync(path);
    return parseTrainerState(await readRegularFileAsync(join(dir, 'trainer_state.json')), dir).step;
  } catch {
    return undefined;
  }
}

async function askMoreSteps(file: string, step: number, total: number): Promise<number | undefined> {
  const more = await vscode.window.showInputBox({
    title: withParticles(vscode.l10n.t('Train further on {0}', file)),
    prompt: vscode.l10n.t(
      'This run finished all {0} of its steps. How many more steps? (The learning rate schedule is stretched over the new total.)',
      total,
    ),
    value: String(total),
    validateInput: (v) =>
      /^\d+$/.test(v.trim()) && Number(v) >= 1 && step + Number(v) <= MAX_STEPS
        ? undefined
        : vscode.l10n.t('A whole number from 1 to {0}', MAX_STEPS - step),
  });
  return more === undefined ? undefined : Number(more);
}

async function readRunOf(path: string): Promise<RunJson | undefined> {
  for (const dir of [path, dirname(dirname(path))]) {
    const file = join(dir, 'run.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    try {
      return parseRunJson(text, file);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

async function pickPreset(ctx: Ctx, target: vscode.Uri): Promise<RunChoice | undefined> {
  const pick = vscode.window.createQuickPick<PresetItem>();
  pick.title = withParticles(vscode.l10n.t('Train a model on {0}', basename(target.fsPath)));
  pick.placeholder = vscode.l10n.t('Choose a model size (estimates for this file on this machine)');
  const preferred: Preset = ctx.config.defaultPreset === 'small' ? 'small' : 'tiny';
  const measuring = vscode.l10n.t('$(loading~spin) measuring…');
  const sized: PresetItem[] = presetChoices(preferred).map(({ preset, arch, label, description }) => ({
    choice: { preset, arch },
    label,
    description: preset === preferred && arch === 'gpt2' ? `${vscode.l10n.t('default')} · ${description}` : description,
    detail: measuring,
  }));
  const quick: PresetItem = {
    choice: { preset: 'tiny', maxSteps: QUICK_RUN_STEPS },
    label: vscode.l10n.t('Quick run'),
    description: vscode.l10n.t('Tiny, {0} steps: a first look at what it learns', QUICK_RUN_STEPS),
    detail: measuring,
  };
  const custom: PresetItem = {
    custom: true,
    label: vscode.l10n.t('Custom…'),
    description: vscode.l10n.t('your own settings'),
    detail: vscode.l10n.t('steps or epochs, learning rate, batch, context, tokenizer and vocabulary size'),
  };
  const items = [...sized, quick, custom];
  pick.items = items;
  pick.busy = true;
  const lengthSettings = { maxSteps: ctx.config.maxSteps, epochs: ctx.config.epochs };
  // Closing the pick (a choice made, Escape, or Cancel on the preparation's notification) stops the estimates.
  let closed = false;
  let estimating: number | undefined;
  pick.onDidHide(() => {
    closed = true;
    if (estimating !== undefined) ctx.trainer.cancel(estimating);
  });
  // One after the other: timed steps that share the worker with another measurement are not this machine's speed.
  const estimateAll = async () => {
    for (const item of [...sized, quick]) {
      if (closed) return;
      const choice = item.choice!;
      // The first estimate prepares the corpus (a large one takes a while): its progress, as a run shows it.
      const preparing = new PreparationNotification(pick.title!, () => pick.hide());
      const { id, result } = ctx.trainer.request(
        (id) => ({
          kind: 'estimate',
          id,
          request: {
            corpusPath: target.fsPath,
            tokenizer: ctx.config.tokenizer,
            clean: ctx.config.trainingClean,
            backend: ctx.config.backend,
            measureSteps: 2,
            ...(choice.maxSteps ? {} : lengthSettings),
            ...choice,
          },
        }),
        (m) => m.kind === 'event' && preparing.onEvent(m.event),
      );
      estimating = id;
      try {
        const estimate = await result;
        item.detail = describeEstimate(estimate, !choice.maxSteps && !choice.epochs && !lengthSettings.maxSteps && !lengthSettings.epochs);
        Object.assign(pick, describePick(basename(target.fsPath), estimate));
      } catch (e) {
        item.detail = `$(warning) ${errorText(e)}`;
      } finally {
        preparing.close();
        estimating = undefined;
      }
      const activeLabel = pick.activeItems[0]?.label;
      pick.items = [...items];
      pick.activeItems = pick.items.filter((i) => i.label === (activeLabel ?? items[0].label));
    }
    pick.busy = false;
  };
  void estimateAll();

  const chosen = await new Promise<PresetItem | undefined>((resolve) => {
    pick.onDidAccept(() => resolve(pick.selectedItems[0]));
    pick.onDidHide(() => resolve(undefined));
    pick.show();
  });
  pick.dispose();
  if (chosen?.custom) return askCustomRun(ctx, target, preferred);
  return chosen?.choice;
}

/**
 * Custom…: the preset to start from, steps or epochs, learning rate, batch, context, tokenizer and
 * (BPE) vocabulary size. Each value is checked by the same core validation a run applies.
 */
async function askCustomRun(ctx: Ctx, target: vscode.Uri, preferred: Preset): Promise<RunChoice | undefined> {
  const title = withParticles(vscode.l10n.t('Train a model on {0}', basename(target.fsPath)));
  const picked = await vscode.window.showQuickPick(presetChoices(preferred), {
    title,
    placeHolder: vscode.l10n.t('Model size to start from'),
  });
  if (!picked) return undefined;
  const { preset, arch } = picked;
  const p = presetNamed(preset);
  const units = [
    { unit: 'steps' as const, label: vscode.l10n.t('Steps'), description: vscode.l10n.t('optimizer steps') },
    { unit: 'epochs' as const, label: vscode.l10n.t('Epochs'), description: vscode.l10n.t('passes over the file') },
  ];
  const unit = (await vscode.window.showQuickPick(units, { title, placeHolder: vscode.l10n.t('Train for a number of…') }))?.unit;
  if (!unit) return undefined;
  const ask = async (prompt: string, value: string, check: (v: number) => unknown) => {
    const answer = await vscode.window.showInputBox({ title, prompt, value, validateInput: (v) => coreValidation(v, check) });
    return answer === undefined ? undefined : Number(answer.trim());
  };
  const length = await ask(unit === 'steps' ? vscode.l10n.t('Steps') : vscode.l10n.t('Epochs'), unit === 'steps' ? '600' : '10', (v) =>
    validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, [unit === 'steps' ? 'maxSteps' : 'epochs']: v }),
  );
  if (length === undefined) return undefined;
  const lr = await ask(vscode.l10n.t('Learning rate'), String(DEFAULT_TRAIN_OPTIONS.lr), (v) =>
    validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, lr: v, minLr: Math.min(DEFAULT_TRAIN_OPTIONS.minLr, v) }),
  );
  if (lr === undefined) return undefined;
  const batch = await ask(vscode.l10n.t('Batch (sequences per step)'), String(p.batch), (v) =>
    validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, batch: v }),
  );
  if (batch === undefined) return undefined;
  const context = await ask(vscode.l10n.t('Context (tokens the model sees at once)'), String(p.context), (v) =>
    validateModelConfig(
      withArch(
        {
          vocabSize: MIN_BPE_VOCAB,
          context: v,
          layers: p.layers,
          heads: p.heads,
          width: p.width,
          norm: 'layernorm',
          dropout: p.dropout,
          bias: true,
        },
        arch,
      ),
    ),
  );
  if (context === undefined) return undefined;
  const tokenizer = await pickTokenizerKind(ctx, title);
  if (!tokenizer) return undefined;
  let vocabSize: number | undefined;
  if (tokenizer === 'bpe') {
    vocabSize = await askVocabSize(title, await corpusBytes(target.fsPath));
    if (vocabSize === undefined) return undefined;
  }
  return { preset, arch, [unit === 'steps' ? 'maxSteps' : 'epochs']: length, lr, batch, context, tokenizer, vocabSize };
}

/**
 * The presets a run starts from, the preferred size first: GPT-2's blocks, then Llama's (RoPE,
 * RMSNorm, SwiGLU, grouped-query attention) at the same shape and parameter budget (withArch).
 */
export function presetChoices(preferred: Preset): (vscode.QuickPickItem & { preset: Preset; arch: Arch })[] {
  const sizes: Preset[] = preferred === 'small' ? ['small', 'tiny'] : ['tiny', 'small'];
  const name = (preset: Preset) => (preset === 'tiny' ? 'Tiny' : 'Small');
  const gpt2 = sizes.map((preset) => {
    const p = presetNamed(preset);
    return {
      preset,
      arch: 'gpt2' as const,
      label: name(preset),
      description: vscode.l10n.t('{0} layers · {1} heads · width {2} · context {3}', p.layers, p.heads, p.width, p.context),
    };
  });
  const llama = sizes.map((preset) => {
    const p = presetNamed(preset);
    return {
      preset,
      arch: 'llama' as const,
      label: `Llama ${name(preset)}`,
      // The label says Llama; the row says what its blocks have, short enough to be shown whole.
      description: vscode.l10n.t('RoPE · RMSNorm · SwiGLU · grouped-query attention · {0} layers · width {1}', p.layers, p.width),
    };
  });
  return [...gpt2, ...llama];
}

/**
 * A preset row's detail: steps, epochs and total time first (what the user waits for), then size and
 * memory. Short enough to be shown whole; the file's tokens and the engine, the same for every row,
 * are in the pick's title and placeholder (describePick).
 */
export function describeEstimate(e: EstimateResult, fitToText = false): string {
  const epochs = e.totalSteps / e.stepsPerEpoch;
  const epochText = Number.isInteger(epochs) ? epochs.toLocaleString() : epochs.toFixed(1);
  const seconds = e.totalSeconds ?? (e.secondsPerStep === undefined ? undefined : e.secondsPerStep * e.totalSteps);
  const total = seconds === undefined ? '' : vscode.l10n.t('≈ {0}', formatSeconds(seconds));
  // The default length (core/train-plan.ts defaultEpochs) stops about where validation stops improving.
  const length = fitToText
    ? vscode.l10n.t('{0} steps = {1} epochs, fit to this text', e.totalSteps.toLocaleString(), epochText)
    : vscode.l10n.t('{0} steps = {1} epochs', e.totalSteps.toLocaleString(), epochText);
  return [
    [length, total].filter(Boolean).join(' '),
    vscode.l10n.t('{0} parameters', e.params.toLocaleString()),
    vscode.l10n.t('{0} memory', formatBytes(e.trainingBytes)),
  ].join(' · ');
}

/** The preset pick's title and placeholder once an estimate is in: the file's tokens, and the engine it was measured on. */
export function describePick(file: string, e: EstimateResult): { title: string; placeholder: string } {
  return {
    title: withParticles(vscode.l10n.t('Train a model on {0} ({1} tokens)', file, e.tokens.toLocaleString())),
    placeholder: vscode.l10n.t('Measured on this machine: {0}', describeEngine(e)),
  };
}

/** A duration (core/duration.ts) with its unit in the UI language. */

/** A run's place in a training queue (training-queue.ts), said in the progress title. A cancelled run ends the queue. */
export interface QueuePosition {
  index: number;
  total: number;
}

/**
 * Trains in the worker with progress, loss chart and status bar; `finetune` (commands/finetune.ts)
 * sends that job instead. In a queue, the queue reports the end, not each run.
 */
export async function startTraining(
  ctx: Ctx,
  target: vscode.Uri,
  request: TrainRequest,
  finetune?: { request: FinetuneRequest; title: string },
  queue?: QueuePosition,
): Promise<TrainResult | undefined> {
  const events: TrainEvent[] = [];
  await ctx.ignoreInGit();
  const follow = new FollowBestCheckpoint(ctx, await ctx.serving.fileServer(target));
  const job = ctx.trainer.request(
    (id) =>
      finetune
        ? { kind: 'finetune', id, request: finetune.request }
        : {
            kind: 'train',
            id,
            request: {
              ...request,
              backend: ctx.config.backend,
              tokenizer: request.resume ? undefined : (request.tokenizer ?? ctx.config.tokenizer),
            },
          },
    (m) => {
      if (m.kind !== 'event') return;
      events.push(m.event);
      if (m.event.type === 'start' && ctx.training) ctx.training.runDir = m.event.run_dir;
      follow.onEvent(m.event);
      ctx.fireTrainEvent(m.id, m.event);
      logEvent(ctx, m.event);
    },
  );
  ctx.training = { jobId: job.id, corpus: target, events, cancel: () => ctx.trainer.cancel(job.id) };
  await vscode.commands.executeCommand('setContext', 'corpusLab.training', true);
  ctx.log.appendLine(`train ${target.fsPath} ${JSON.stringify(request)}`);
  void vscode.commands.executeCommand('corpusLab.openLossChart');
  const title = finetune?.title ?? withParticles(vscode.l10n.t('Training on {0}', basename(target.fsPath)));
  try {
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: queue ? vscode.l10n.t('Run {0} of {1}: {2}', queue.index, queue.total, title) : title,
        cancellable: true,
      },
      async (progress, token) => {
        // This run's, not whichever runs when the button is pressed.
        token.onCancellationRequested(() => ctx.trainer.cancel(job.id));
        let last = 0;
        const show = (event: TrainEvent) => {
          const message = progressMessage(event, events, follow.serving);
          if (message === undefined) return;
          const total = startPlan(events)?.totalSteps ?? 1;
          const step = 'step' in event ? event.step : 0;
          const increment = Math.max(0, ((step - last) / total) * 100);
          last = Math.max(last, step);
          progress.report({ message, increment });
        };
        // What the job said before this notification opened (a small corpus is prepared by then).
        for (const event of [...events]) show(event);
        const sub = ctx.onTrainEvent(({ jobId, event }) => {
          if (jobId === job.id) show(event);
        });
        try {
          return await job.result;
        } finally {
          sub.dispose();
        }
      },
    );
    ctx.runsChangedNow();
    if (result.reason === 'cancelled' && !result.checkpoint) {
      void vscode.window.showInformationMessage(
        withParticles(vscode.l10n.t('Preparing {0} was cancelled; nothing was trained.', basename(target.fsPath))),
      );
      return result;
    }
    // The best checkpoint, not the last: on a small corpus the last one has often overfit.
    const best = result.best && result.best.checkpoint !== result.checkpoint ? result.best : undefined;
    const keepChoice = follow.userChoseAnother && ctx.activeModel !== undefined;
    const model = best?.checkpoint ?? result.checkpoint;
    await follow.settled();
    const verdict = await follow.verdict(best?.valLoss ?? result.valLoss);
    if (result.checkpoint && !keepChoice && verdict.takes) await ctx.setActiveModel(model);
    if (queue) return result;
    const offered = !keepChoice && !verdict.takes && result.reason === 'completed';
    // A model trained on conversations (a .jsonl, with a chat template) is asked, not completed.
    const askable = extname(target.fsPath) === '.jsonl' && hasChatTemplate(model);
    const message = offered
      ? keptServingLine(target, result.valLoss, verdict)
      : keepChoice && result.reason === 'completed'
        ? vscode.l10n.t(
            'Training finished: validation loss {0}. The model you chose ({1}) stays active; this run’s best checkpoint is {2}.',
            result.valLoss.toFixed(3),
            modelName(ctx.activeModel!),
            modelName(best?.checkpoint ?? result.checkpoint),
          )
        : result.reason === 'cancelled'
          ? vscode.l10n.t('Training stopped at step {0}; the checkpoint is kept. Resume it from the Runs view.', result.step)
          : best
            ? vscode.l10n.t(
                'Training finished: validation loss {0}, but {1} was better ({2}): it is now the active model.',
                result.valLoss.toFixed(3),
                basename(best.checkpoint),
                best.valLoss.toFixed(3),
              )
            : askable
              ? vscode.l10n.t(
                  'Training finished: validation loss {0}. The model is now active: ask it a question (Ask the Model…).',
                  result.valLoss.toFixed(3),
                )
              : vscode.l10n.t(
                  'Training finished: validation loss {0}. The model is now active: type in a text file to see completions.',
                  result.valLoss.toFixed(3),
                );
    const overfit = events.find(isOverfitNotice);
    const use = vscode.l10n.t('Use for This File');
    const ask = vscode.l10n.t('Ask the Model…');
    const actions = offered ? [use] : askable && result.reason === 'completed' && ctx.activeModel === model ? [ask] : [];
    void vscode.window
      .showInformationMessage(overfit ? `${message} ${overfitAdvice(overfit, target)}` : message, ...actions)
      .then((answer) => {
        if (answer === use) void ctx.serving.choose(target, model);
        if (answer === ask) void vscode.commands.executeCommand('corpusLab.askModel');
      });
    return result;
  } catch (e) {
    ctx.runsChangedNow();
    showError(ctx, e instanceof WorkerError && e.crashed ? vscode.l10n.t('Training failed: {0}', e.message) : errorText(e));
    return undefined;
  } finally {
    follow.dispose();
    ctx.endTraining();
    await vscode.commands.executeCommand('setContext', 'corpusLab.training', false);
  }
}

/** Whether Ask the Model… can ask `model` a question: it has a chat template (a LoRA adapter, its base's). */
function hasChatTemplate(model: string): boolean {
  try {
    requireChatTemplate(model);
    return true;
  } catch {
    return false;
  }
}

/** The closing message of a run that did not take its file: which model goes on serving it, and why. */
function keptServingLine(target: vscode.Uri, valLoss: number, verdict: FileVerdict): string {
  const file = basename(target.fsPath);
  const serving = verdict.incumbent ? modelName(verdict.incumbent.model) : '';
  const why = !verdict.incumbent
    ? withParticles(vscode.l10n.t('This run is an experiment arm: it serves {0} only if you choose it.', file))
    : verdict.incumbent.chosen
      ? withParticles(vscode.l10n.t('{0} stays the model you chose for {1}.', serving, file))
      : withParticles(
          vscode.l10n.t(
            '{0} keeps serving {1}: its validation loss is lower ({2} vs {3} bits per byte of the file).',
            serving,
            file,
            bitsPerByte(verdict.incumbent ?? {}).toFixed(3),
            verdict.bitsPerByte.toFixed(3),
          ),
        );
  return `${vscode.l10n.t('Training finished: validation loss {0}.', valLoss.toFixed(3))} ${why}`;
}

function startPlan(events: TrainEvent[]) {
  const start = events.find((e) => e.type === 'start');
  return start?.type === 'start' ? start.plan : undefined;
}

/**
 * The line of a run's progress notification. What is said about the live run is said here (the
 * checkpoint completions come from, overfitting), not in notifications of its own: this one closes
 * when the run ends, so nothing about a run that has moved on stays, and its Cancel stops this run.
 */
export function progressMessage(e: TrainEvent, all: TrainEvent[], serving?: string): string | undefined {
  const plan = startPlan(all);
  if (e.type === 'start') return vscode.l10n.t('starting: {0} parameters on {1}', e.params.toLocaleString(), e.backend);
  if (e.type === 'prepare') return prepareLine(e);
  if (e.type !== 'step' || !plan) return undefined;
  const overfit = all.find(isOverfitNotice);
  return [
    overfit && overfitLine(overfit, all),
    stepLine(e, all, plan),
    serving && vscode.l10n.t('completions come from {0}, the best checkpoint so far', modelName(serving)),
  ]
    .filter(Boolean)
    .join(' — ');
}

function stepLine(e: Extract<TrainEvent, { type: 'step' }>, all: TrainEvent[], plan: NonNullable<ReturnType<typeof startPlan>>): string {
  // Timed from the first step's end: that step also waited for the engine to warm up.
  const first = all.find((x) => x.type === 'step');
  const eta = first?.type === 'step' ? etaSeconds(plan.totalSteps - e.step, e.step - first.step, e.elapsed_s - first.elapsed_s) : undefined;
  const epochs = Math.ceil(plan.totalSteps / plan.stepsPerEpoch);
  const loss = e.loss.toFixed(3);
  if (eta === undefined) return vscode.l10n.t('epoch {0}/{1} · step {2}/{3} · loss {4}', e.epoch, epochs, e.step, plan.totalSteps, loss);
  return vscode.l10n.t(
    'epoch {0}/{1} · step {2}/{3} · loss {4} · ETA {5}',
    e.epoch,
    epochs,
    e.step,
    plan.totalSteps,
    loss,
    formatSeconds(eta),
  );
}

function logEvent(ctx: Ctx, e: TrainEvent): void {
  if (e.type === 'step') {
    if (e.step % 50 === 0)
      ctx.log.appendLine(
        `step ${e.step} epoch ${e.epoch} loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} ${Math.round(e.tokens_per_s)} tok/s`,
      );
  } else if (e.type === 'eval') ctx.log.appendLine(`eval step ${e.step} loss ${e.loss.toFixed(4)} val_loss ${e.val_loss.toFixed(4)}`);
  else if (e.type === 'checkpoint') ctx.log.appendLine(`checkpoint ${e.reason} step ${e.step} val_loss ${e.val_loss.toFixed(4)} ${e.path}`);
  else if (e.type === 'notice') ctx.log.appendLine(`notice step ${e.step}: ${e.message}`);
  else if (e.type === 'data') ctx.log.appendLine(`${dataSummary(e)}\n${previewText(e.first.parts)}`);
  else if (e.type === 'prepare') return;
  else if (e.type === 'start')
    ctx.log.appendLine(
      `start ${e.run_dir} params ${e.params} backend ${e.backend} threads ${e.threads}${e.blas ? ` blas ${e.blas}` : ''} steps ${e.plan.totalSteps}`,
    );
  else ctx.log.appendLine(`done ${e.reason} step ${e.step} loss ${e.loss.toFixed(4)} val_loss ${e.val_loss.toFixed(4)} ${e.checkpoint}`);
}
