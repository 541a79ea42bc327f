import * as vscode from 'vscode';
import { basename } from 'node:path';
import { Ctx, modelName } from '../ctx';
import type { EstimateResult, FinetuneRequest, TrainResult } from '../../worker/protocol';
import { formatBytes } from '../../core/format-bytes';
import { resolveTarget } from './util';
import { withParticles } from '../l10n';
import { formatSeconds, startTraining } from './train';
import { errorText } from '../error-text';
import { resolveCheckpoint } from '../../core/checkpoint';
import { modelFolderKind } from '../../core/model-folder';

export type FinetuneMethod = 'lora' | 'full';

/** The rank the editor's LoRA choice trains (PEFT's and the CLI's default). */
export const EDITOR_LORA_RANK = 8;

export interface MethodItem extends vscode.QuickPickItem {
  method: FinetuneMethod;
  estimate?: EstimateResult;
}

/**
 * Fine-tune Active Model on This File…: LoRA r=8 or full fine-tuning, each with its trainable
 * parameters, time per epoch and memory measured here, then trains in the training worker with
 * the progress, loss chart and status bar of Train. `options.method` answers the pick for tests.
 */
export function finetuneCommand(ctx: Ctx) {
  return async (
    uri?: vscode.Uri,
    options?: { method?: FinetuneMethod; maxSteps?: number; epochs?: number },
  ): Promise<TrainResult | undefined> => {
    const target = await resolveTarget(uri);
    if (!target) return undefined;
    const base = ctx.activeModel;
    if (!base) {
      vscode.window.showInformationMessage(
        vscode.l10n.t('No active model to fine-tune: train one, set one in the Runs view, or open a Hugging Face model folder.'),
      );
      return undefined;
    }
    if (ctx.training) {
      vscode.window.showWarningMessage(
        vscode.l10n.t(
          'A training run is already in progress ({0}). Cancel it first, or wait for it to finish.',
          basename(ctx.training.corpus.fsPath),
        ),
      );
      return undefined;
    }
    if (!(await ctx.mayLoadModelFrom(base))) return undefined;
    const method = options?.method ?? (await pickMethod(ctx, target, base));
    if (!method) return undefined;
    const continued = method === 'lora' && isLoraAdapter(base);
    const request: FinetuneRequest = {
      basePath: base,
      corpusPath: target.fsPath,
      runsRoot: ctx.runsRoot(),
      lora: method === 'lora',
      // A LoRA adapter is trained further with its own rank (finetune refuses another).
      rank: method === 'lora' && !continued ? EDITOR_LORA_RANK : undefined,
      maxSteps: options?.maxSteps ?? ctx.config.maxSteps,
      epochs: options?.epochs ?? ctx.config.epochs,
      backend: ctx.config.backend,
    };
    const title = continued
      ? withParticles(vscode.l10n.t('Fine-tuning the LoRA adapter {0} further on {1}', modelName(base), basename(target.fsPath)))
      : method === 'lora'
        ? withParticles(vscode.l10n.t('Fine-tuning {0} on {1} (LoRA r={2})', modelName(base), basename(target.fsPath), EDITOR_LORA_RANK))
        : withParticles(vscode.l10n.t('Fine-tuning {0} on {1} (every weight)', modelName(base), basename(target.fsPath)));
    return startTraining(ctx, target, { corpusPath: target.fsPath }, { request, title });
  };
}

/** The two choices, each measured in the training worker one after the other (timed steps must not share it). */
export async function estimateMethods(
  ctx: Ctx,
  target: vscode.Uri,
  base: string,
  onUpdate: (items: MethodItem[]) => void = () => undefined,
): Promise<MethodItem[]> {
  const continued = isLoraAdapter(base);
  const items: MethodItem[] = [
    {
      method: 'lora',
      label: continued ? vscode.l10n.t('Continue this LoRA adapter') : vscode.l10n.t('LoRA r={0}', EDITOR_LORA_RANK),
      description: continued
        ? vscode.l10n.t('its own rank and targets, on its frozen base')
        : vscode.l10n.t('adapters on the frozen base, PEFT format'),
      detail: vscode.l10n.t('$(loading~spin) measuring…'),
    },
    {
      method: 'full',
      label: vscode.l10n.t('Full fine-tuning'),
      description: vscode.l10n.t('every weight'),
      detail: vscode.l10n.t('$(loading~spin) measuring…'),
    },
  ];
  onUpdate([...items]);
  for (const item of items) {
    const { result } = ctx.trainer.request((id) => ({
      kind: 'estimate',
      id,
      request: {
        corpusPath: target.fsPath,
        backend: ctx.config.backend,
        measureSteps: 2,
        finetune: {
          basePath: base,
          lora: item.method === 'lora',
          rank: item.method === 'lora' && !continued ? EDITOR_LORA_RANK : undefined,
        },
      },
    }));
    try {
      item.estimate = await result;
      item.detail = describeFinetuneEstimate(item.estimate);
      if (item.estimate.lora?.continued) item.label = vscode.l10n.t('Continue this LoRA adapter (r={0})', item.estimate.lora.r);
      item.description = `${item.description} · ${vscode.l10n.t('windows of {0} tokens × {1}', item.estimate.window, item.estimate.batch)}`;
    } catch (e) {
      item.detail = `$(warning) ${errorText(e)}`;
    }
    onUpdate([...items]);
  }
  return items;
}

/** Whether the model is a LoRA adapter, which LoRA trains further rather than stacking another on it. */
function isLoraAdapter(model: string): boolean {
  try {
    return modelFolderKind(resolveCheckpoint(model)) === 'adapter';
  } catch {
    // The worker's loader says what is wrong with the folder.
    return false;
  }
}

async function pickMethod(ctx: Ctx, target: vscode.Uri, base: string): Promise<FinetuneMethod | undefined> {
  const pick = vscode.window.createQuickPick<MethodItem>();
  pick.title = withParticles(vscode.l10n.t('Fine-tune {0} on {1}', modelName(base), basename(target.fsPath)));
  pick.placeholder = vscode.l10n.t('Choose how to fine-tune (measured for this file on this machine)');
  pick.busy = true;
  const measured = estimateMethods(ctx, target, base, (items) => {
    const active = pick.activeItems[0]?.method ?? 'lora';
    pick.items = items;
    pick.activeItems = items.filter((i) => i.method === active);
  }).finally(() => (pick.busy = false));
  const chosen = await new Promise<MethodItem | undefined>((resolve) => {
    pick.onDidAccept(() => resolve(pick.selectedItems[0]));
    pick.onDidHide(() => resolve(undefined));
    pick.show();
  });
  pick.dispose();
  // The worker finishes the measurement before it trains; nothing waits on it here.
  void measured.catch(() => undefined);
  return chosen?.method;
}

/**
 * A method's detail: trainable parameters, and time per epoch and memory as measured here. The
 * memory is what a timed step of this shape held at its peak on this engine (tf.profile: weights,
 * what trains with its gradients and AdamW moments, activations), for both methods alike; on a
 * small model LoRA's adapter ops can hold more than full fine-tuning's fused kernels save. Without
 * a measurement it is the formula's (core/estimate.ts), and says so.
 */
export function describeFinetuneEstimate(e: EstimateResult): string {
  const share = ((100 * e.trainableParams) / e.params).toFixed(e.trainableParams < e.params ? 2 : 0);
  return [
    vscode.l10n.t('{0} trainable parameters ({1}% of {2})', e.trainableParams.toLocaleString(), share, e.params.toLocaleString()),
    e.secondsPerEpoch === undefined ? '' : vscode.l10n.t('≈ {0} per epoch', formatSeconds(e.secondsPerEpoch)),
    e.measuredBytes === undefined
      ? vscode.l10n.t('{0} memory (estimated)', formatBytes(e.trainingBytes))
      : vscode.l10n.t('{0} memory (measured)', formatBytes(e.measuredBytes)),
    e.backend,
  ]
    .filter(Boolean)
    .join(' · ');
}
