import * as vscode from 'vscode';
import { rm } from 'node:fs/promises';
import { Ctx } from '../ctx';
import { LossChartPanel } from '../webview/loss-chart-panel';
import { RunsNode, valLabel } from '../runs-tree';
import { listRuns } from '../../core/runs';
import { resolveCheckpointAsync } from '../../core/checkpoint';
import { isInside } from '../../core/safe-fs';
import { showError } from './util';
import { withParticles } from '../l10n';
import { errorText } from '../error-text';

/** Set Active Model: from a Runs item, or a pick of every run and checkpoint. */
export function setActiveModelCommand(ctx: Ctx) {
  return async (node?: RunsNode | string) => {
    let path = typeof node === 'string' ? node : node?.path;
    if (!path) {
      const items = (await listRuns(ctx.runsRoot())).flatMap((r) => [
        { label: r.name, description: r.valLoss !== undefined ? valLabel(r.valLoss) : r.status, path: r.dir },
        ...[...r.checkpoints]
          .reverse()
          .map((c) => ({ label: `    ${c.name}`, description: c.valLoss !== undefined ? valLabel(c.valLoss) : '', path: c.dir })),
      ]);
      if (items.length === 0) {
        vscode.window.showInformationMessage(vscode.l10n.t('No runs yet: train a model first.'));
        return;
      }
      path = (await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Set Active Model') }))?.path;
    }
    if (!path) return;
    try {
      await resolveCheckpointAsync(path);
    } catch (e) {
      showError(ctx, errorText(e));
      return;
    }
    await ctx.setActiveModel(path);
  };
}

export function openLossChartCommand(ctx: Ctx) {
  return (node?: RunsNode) => LossChartPanel.show(ctx, node?.kind === 'run' ? node.path : node && 'run' in node ? node.run.dir : undefined);
}

export function revealRunCommand() {
  return (node?: RunsNode) => node && vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(node.path));
}

export function deleteRunCommand(ctx: Ctx) {
  return async (node?: RunsNode) => {
    if (!node) return;
    if (ctx.training?.runDir && isInside(ctx.training.runDir, node.path)) {
      vscode.window.showWarningMessage(vscode.l10n.t('This run is training: cancel it before deleting.'));
      return;
    }
    const del = vscode.l10n.t('Delete');
    const what =
      node.kind === 'run'
        ? withParticles(vscode.l10n.t('the run {0} and all its checkpoints', node.run.name))
        : vscode.l10n.t('the checkpoint {0}', node.name);
    if (
      (await vscode.window.showWarningMessage(
        withParticles(vscode.l10n.t('Delete {0}? This cannot be undone.', what)),
        { modal: true },
        del,
      )) !== del
    )
      return;
    await rm(node.path, { recursive: true, force: true });
    if (ctx.activeModel && isInside(ctx.activeModel, node.path)) await ctx.setActiveModel(undefined);
    ctx.runsChangedNow();
  };
}
