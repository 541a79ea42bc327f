import * as vscode from 'vscode';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Ctx } from '../ctx';
import { WorkerError } from '../worker-client';
import type { EstimateResult, FinetuneRequest, TrainRequest, TrainResult } from '../../worker/protocol';
import { formatBytes } from '../../core/format-bytes';
import { TrainEvent } from '../../core/train-events';
import { resolveTarget, showError } from './util';
import { parseRunJson } from '../../core/run-json';
import { isInside } from '../../core/safe-fs';

interface PresetItem extends vscode.QuickPickItem {
  preset: 'tiny' | 'small';
}

/** Train Model on This File: pick a preset (with this corpus's size, time and memory), then train in the worker. */
export function trainCommand(ctx: Ctx) {
  return async (uri?: vscode.Uri, options?: { preset?: 'tiny' | 'small'; maxSteps?: number; epochs?: number}) => {
    const target = await resolveTarget(uri);
    if (!target) return;
    if (ctx.training) {
      vscode.window.showWarningMessage(vscode.l10n.t('A training run is already in progress ({0}). Cancel it first, or wait for it to finish.', basename(ctx.training.corpus.fsPath)));
      return;
    }
    const preset = options?.preset ?? (await pickPreset(ctx, target));
    if (!preset) return;
    return startTraining(ctx, target, { corpusPath: target.fsPath, runsRoot: ctx.runsRoot(), preset, maxSteps: options?.maxSteps ?? ctx.config.maxSteps, epochs: options?.epochs ?? ctx.config.epochs });
  };
}

/**
 * Resume Training: continue a run (or checkpoint) from where it stopped, on its own corpus. When
 * that file changed since (the walkthrough has the user type in it), asks: continue on the changed
 * text, or train a new model on it. `options.onChangedCorpus` answers for tests.
 */
export function resumeCommand(ctx: Ctx) {
  return async (item?: { path?: string } | vscode.Uri, options?: { onChangedCorpus?: 'continue' | 'new' }) => {
    const path = item instanceof vscode.Uri ? item.fsPath : item?.path ?? ctx.activeModel;
    if (!path) {
      vscode.window.showInformationMessage(vscode.l10n.t('Choose a run in the Runs view to resume.'));
      return;
    }
    if (ctx.training) {
      vscode.window.showWarningMessage(vscode.l10n.t('A training run is already in progress ({0}). Cancel it first, or wait for it to finish.', basename(ctx.training.corpus.fsPath)));
      return;
    }
    const corpus = await readCorpusOfRun(path);
    if (!corpus) {
      vscode.window.showErrorMessage(vscode.l10n.t('Cannot resume {0}: its run.json does not say which file it was trained on.', basename(path)));
      return;
    }
    const target = vscode.Uri.file(corpus.path);
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
    if (doc?.isDirty) await doc.save();
    let continueOnChangedCorpus = false;
    const current = await readFile(corpus.path).then((b) => createHash('sha256').update(b).digest('hex'), () => undefined);
    if (current !== undefined && current !== corpus.sha256) {
      const goOn = vscode.l10n.t('Continue on Changed Text');
      const anew = vscode.l10n.t('Train New Model');
      const answer =
        options?.onChangedCorpus === 'continue' ? goOn
        : options?.onChangedCorpus === 'new' ? anew
        : await vscode.window.showWarningMessage(
            vscode.l10n.t('{0} has changed since this run was trained on it.', basename(corpus.path)),
            { modal: true, detail: vscode.l10n.t('Continue from this checkpoint on the changed text (a new epoch starts on it), or train a new model on the file as it is now.') },
            goOn,
            anew,
          );
      if (answer === anew) return vscode.commands.executeCommand('corpusLab.train', target);
      if (answer !== goOn) return;
      continueOnChangedCorpus = true;
    }
    return startTraining(ctx, target, { corpusPath: corpus.path, resume: path, continueOnChangedCorpus });
  };
}

async function readCorpusOfRun(path: string): Promise<{ path: string; sha256: string } | undefined> {
  for (const dir of [path, dirname(dirname(path))]) {
    const file = join(dir, 'run.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    try {
      return parseRunJson(text, file).corpus;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

async function pickPreset(ctx: Ctx, target: vscode.Uri): Promise<'tiny' | 'small' | undefined> {
  const pick = vscode.window.createQuickPick<PresetItem>();
  pick.title = vscode.l10n.t('Train a model on {0}', basename(target.fsPath));
  pick.placeholder = vscode.l10n.t('Choose a model size (estimates for this file on this machine)');
  const items: PresetItem[] = [
    { preset: 'tiny', label: 'Tiny', description: vscode.l10n.t('4 layers · 4 heads · width 128 · context 64'), detail: vscode.l10n.t('$(loading~spin) measuring…') },
    { preset: 'small', label: 'Small', description: vscode.l10n.t('6 layers · 6 heads · width 192 · context 128'), detail: vscode.l10n.t('$(loading~spin) measuring…') },
  ];
  if (ctx.config.defaultPreset === 'small') items.reverse();
  pick.items = items;
  pick.busy = true;
  // One after the other: timed steps that share the worker with another measurement are not this machine's speed.
  const estimateAll = async () => {
    for (const item of items) {
      const { result } = ctx.trainer.request((id) => ({
        kind: 'estimate',
        id,
        request: { corpusPath: target.fsPath, preset: item.preset, tokenizer: ctx.config.tokenizer, backend: ctx.config.backend, measureSteps: 2 },
      }));
      try {
        item.detail = describeEstimate(await result);
      } catch (e) {
        item.detail = `$(warning) ${(e as Error).message}`;
      }
      pick.items = [...items];
      pick.activeItems = pick.items.filter((i) => i.preset === (pick.activeItems[0]?.preset ?? items[0].preset));
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
  return chosen?.preset;
}

export function describeEstimate(e: EstimateResult): string {
  const time = e.secondsPerEpoch === undefined ? '' : vscode.l10n.t('≈ {0} per epoch', formatSeconds(e.secondsPerEpoch));
  return [
    vscode.l10n.t('{0} parameters', e.params.toLocaleString()),
    vscode.l10n.t('{0} tokens', e.tokens.toLocaleString()),
    time,
    vscode.l10n.t('{0} memory', formatBytes(e.trainingBytes)),
    `${e.backend}`,
  ]
    .filter(Boolean)
    .join(' · ');
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** Trains in the worker with progress, loss chart and status bar; `finetune` (commands/finetune.ts) sends that job instead. */
export async function startTraining(ctx: Ctx, target: vscode.Uri, request: TrainRequest, finetune?: { request: FinetuneRequest; title: string }): Promise<TrainResult | undefined> {
  const events: TrainEvent[] = [];
  const job = ctx.trainer.request(
    (id) =>
      finetune
        ? { kind: 'finetune', id, request: finetune.request }
        : { kind: 'train', id, request: { ...request, backend: ctx.config.backend, tokenizer: request.resume ? undefined : ctx.config.tokenizer } },
    (m) => {
      if (m.kind !== 'event') return;
      events.push(m.event);
      if (m.event.type === 'start' && ctx.training) ctx.training.runDir = m.event.run_dir;
      // A run that continues the active model moves it along: the worker prunes older checkpoints.
      if (m.event.type === 'checkpoint' && ctx.activeModel && ctx.training?.runDir && isInside(ctx.activeModel, ctx.training.runDir)) void ctx.setActiveModel(m.event.path);
      ctx.fireTrainEvent(m.id, m.event);
      logEvent(ctx, m.event);
    },
  );
  ctx.training = { jobId: job.id, corpus: target, events, cancel: () => ctx.trainer.cancel(job.id) };
  await vscode.commands.executeCommand('setContext', 'corpusLab.training', true);
  ctx.log.appendLine(`train ${target.fsPath} ${JSON.stringify(request)}`);
  void vscode.commands.executeCommand('corpusLab.openLossChart');
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: finetune?.title ?? vscode.l10n.t('Training on {0}', basename(target.fsPath)), cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(() => {
          ctx.training?.cancel();
        });
        let last = 0;
        const sub = ctx.onTrainEvent(({ jobId, event }) => {
          if (jobId !== job.id) return;
          const message = progressMessage(event, events);
          if (message === undefined) return;
          const total = startPlan(events)?.totalSteps ?? 1;
          const step = 'step' in event ? event.step : 0;
          const increment = Math.max(0, ((step - last) / total) * 100);
          last = Math.max(last, step);
          progress.report({ message, increment });
        });
        try {
          return await job.result;
        } finally {
          sub.dispose();
        }
      },
    );
    ctx.runsChangedNow();
    // The best checkpoint, not the last: on a small corpus the last one has often overfit.
    const best = result.best && result.best.checkpoint !== result.checkpoint ? result.best : undefined;
    if (result.checkpoint) await ctx.setActiveModel(best?.checkpoint ?? result.checkpoint);
    const message =
      result.reason === 'cancelled'
        ? vscode.l10n.t('Training stopped at step {0}; the checkpoint is kept. Resume it from the Runs view.', result.step)
        : best
          ? vscode.l10n.t('Training finished: validation loss {0}, but {1} was better ({2}): it is now the active model.', result.valLoss.toFixed(3), basename(best.checkpoint), best.valLoss.toFixed(3))
          : vscode.l10n.t('Training finished: validation loss {0}. The model is now active: type in a text file to see completions.', result.valLoss.toFixed(3));
    void vscode.window.showInformationMessage(message);
    return result;
  } catch (e) {
    ctx.runsChangedNow();
    showError(ctx, e instanceof WorkerError && e.crashed ? vscode.l10n.t('Training failed: {0}', e.message) : (e as Error).message);
    return undefined;
  } finally {
    ctx.training = undefined;
    await vscode.commands.executeCommand('setContext', 'corpusLab.training', false);
  }
}

function startPlan(events: TrainEvent[]) {
  const start = events.find((e) => e.type === 'start');
  return start?.type === 'start' ? start.plan : undefined;
}

function progressMessage(e: TrainEvent, all: TrainEvent[]): string | undefined {
  const plan = startPlan(all);
  if (e.type === 'start') return vscode.l10n.t('starting: {0} parameters on {1}', e.params.toLocaleString(), e.backend);
  if (e.type !== 'step' || !plan) return undefined;
  const first = all.find((x) => x.type === 'step');
  const done = first && first.type === 'step' ? e.step - first.step + 1 : 1;
  const eta = ((plan.totalSteps - e.step) * (first && first.type === 'step' ? e.elapsed_s - first.elapsed_s : 0)) / Math.max(1, done - 1);
  const epochs = Math.ceil(plan.totalSteps / plan.stepsPerEpoch);
  return vscode.l10n.t('epoch {0}/{1} · step {2}/{3} · loss {4} · ETA {5}', e.epoch, epochs, e.step, plan.totalSteps, e.loss.toFixed(3), formatSeconds(eta));
}

function logEvent(ctx: Ctx, e: TrainEvent): void {
  if (e.type === 'step') {
    if (e.step % 50 === 0) ctx.log.appendLine(`step ${e.step} epoch ${e.epoch} loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} ${Math.round(e.tokens_per_s)} tok/s`);
  } else if (e.type === 'eval') ctx.log.appendLine(`eval step ${e.step} loss ${e.loss.toFixed(4)} val_loss ${e.val_loss.toFixed(4)}`);
  else if (e.type === 'checkpoint') ctx.log.appendLine(`checkpoint ${e.reason} step ${e.step} val_loss ${e.val_loss.toFixed(4)} ${e.path}`);
  else if (e.type === 'notice') ctx.log.appendLine(`notice step ${e.step}: ${e.message}`);
  else if (e.type === 'start') ctx.log.appendLine(`start ${e.run_dir} params ${e.params} backend ${e.backend} threads ${e.threads} steps ${e.plan.totalSteps}`);
  else ctx.log.appendLine(`done ${e.reason} step ${e.step} loss ${e.loss.toFixed(4)} val_loss ${e.val_loss.toFixed(4)} ${e.checkpoint}`);
}
