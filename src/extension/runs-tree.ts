import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { RunInfo, listRuns } from '../core/runs';
import { isInside } from '../core/safe-fs';

export type RunsNode = { kind: 'run'; run: RunInfo; path: string } | { kind: 'checkpoint'; run: RunInfo; name: string; step: number; valLoss?: number; path: string };

/** Runs → checkpoints, with their losses; the active model is marked. */
export class RunsTree implements vscode.TreeDataProvider<RunsNode> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private refreshTimer?: NodeJS.Timeout;

  constructor(private readonly ctx: Ctx) {
    ctx.extension.subscriptions.push(
      ctx.onDidChangeRuns(() => this.refresh()),
      ctx.onDidChangeActiveModel(() => this.refresh()),
      ctx.onTrainEvent(({ event }) => (event.type === 'checkpoint' || event.type === 'start') && this.refresh()),
      this.changed,
    );
  }

  /** Re-reads the runs at most once a second: short epochs write a checkpoint every few steps. */
  refresh(): void {
    this.refreshTimer ??= setTimeout(() => {
      this.refreshTimer = undefined;
      this.changed.fire();
    }, 1000);
  }

  async getChildren(node?: RunsNode): Promise<RunsNode[]> {
    if (!node) return (await listRuns(this.ctx.runsRoot())).map((run) => ({ kind: 'run', run, path: run.dir }));
    if (node.kind === 'run') {
      return [...node.run.checkpoints].reverse().map((c) => ({ kind: 'checkpoint', run: node.run, name: c.name, step: c.step, valLoss: c.valLoss, path: c.dir }));
    }
    return [];
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    const active = this.ctx.activeModel;
    if (node.kind === 'run') {
      const r = node.run;
      const item = new vscode.TreeItem(r.name, r.checkpoints.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
      const isActive = active !== undefined && isInside(active, r.dir);
      item.description = [statusLabel(r.status), r.valLoss !== undefined ? `val ${r.valLoss.toFixed(3)}` : '', isActive ? vscode.l10n.t('active') : ''].filter(Boolean).join(' · ');
      item.tooltip = new vscode.MarkdownString(`**${r.name}**\n\n${r.corpus ?? ''}\n\n${vscode.l10n.t('status')}: ${statusLabel(r.status)}${r.step !== undefined ? ` · ${vscode.l10n.t('step')} ${r.step}` : ''}`);
      item.iconPath = new vscode.ThemeIcon(r.status === 'training' ? 'sync~spin' : r.status === 'failed' ? 'error' : isActive ? 'star-full' : 'beaker');
      item.contextValue = `run.${r.status}`;
      item.resourceUri = vscode.Uri.file(r.dir);
      item.command = { command: 'corpusLab.openLossChart', title: vscode.l10n.t('Open Loss Chart'), arguments: [node] };
      return item;
    }
    const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.None);
    item.description = [`${vscode.l10n.t('step')} ${node.step}`, node.valLoss !== undefined ? `val ${node.valLoss.toFixed(3)}` : '', active === node.path ? vscode.l10n.t('active') : ''].filter(Boolean).join(' · ');
    item.iconPath = new vscode.ThemeIcon(active === node.path ? 'star-full' : 'save');
    item.contextValue = 'checkpoint';
    item.resourceUri = vscode.Uri.file(node.path);
    return item;
  }
}

function statusLabel(status: string): string {
  switch (status) {
    case 'training':
      return vscode.l10n.t('training');
    case 'completed':
      return vscode.l10n.t('completed');
    case 'cancelled':
      return vscode.l10n.t('stopped');
    case 'failed':
      return vscode.l10n.t('failed');
    case 'interrupted':
      return vscode.l10n.t('interrupted');
    default:
      return status;
  }
}
