import * as vscode from 'vscode';
import type { ModelConfig } from '../core/model-config';
import { archOf } from '../core/experiments';

/** The blocks a run was built of, as the Runs view's menus tell them apart (`run.completed.llama`). */
export function archContext(model: Pick<ModelConfig, 'llama'> | undefined): string {
  return model ? `.${archOf(model)}` : '';
}

/**
 * What the user chose that tells two runs on one text apart, short enough for a tree row's label:
 * the blocks, and DyT in place of GPT-2's LayerNorm ("Llama", "GPT-2", "GPT-2 DyT"; Llama blocks
 * always use RMSNorm).
 */
export function runTraits(model: Pick<ModelConfig, 'llama' | 'norm'>): string {
  return model.llama ? 'Llama' : model.norm === 'dyt' ? 'GPT-2 DyT' : 'GPT-2';
}

/** A run's shape, for its tooltip. */
export function runShape(model: Pick<ModelConfig, 'layers' | 'heads' | 'width' | 'context'>): string {
  return vscode.l10n.t('{0} layers · {1} heads · width {2} · context {3}', model.layers, model.heads, model.width, model.context);
}
