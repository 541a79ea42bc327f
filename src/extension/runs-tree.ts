import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { RunInfo, listRuns } from '../core/runs';
import { isInside } from '../core/safe-fs';

export type RunsNode =
  | { kind: 'run'; run: RunInfo; path: string }
  | { kind: 'checkpoint'; run: RunInfo; name: string; step: number; valLoss?: number; path: string };

/** Runs → checkpoints, with their losses; the active model is marked. */
export class RunsTree implements vscode.TreeDataProvider<RunsNode> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private refreshTimer?: NodeJS.Timeout;

  constructor(private readonly ctx: Ctx) {
    ctx.extension.subscriptions.push(
      ctx.onDidChangeRuns(() => this.refresh()),
      ctx.onDidChangeActiveModel(() => this.refresh()),
      ctx.onTrainEvent(({ event }) => (event.type === 'checkpoint' || event.type === 'start' || event.type === 'eval') && this.refresh()),
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
      return [...node.run.checkpoints]
        .reverse()
        .map((c) => ({ kind: 'checkpoint', run: node.run, name: c.name, step: c.step, valLoss: c.valLoss, path: c.dir }));
    }
    return [];
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    const active = this.ctx.activeModel;
    if (node.kind === 'run') {
      const r = node.run;
      const { label, started } = splitRunName(r.name);
      const item = new vscode.TreeItem(
        label,
        r.checkpoints.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
      );
      const isActive = active !== undefined && isInside(active, r.dir);
      const valLoss = this.liveValLoss(r) ?? r.valLoss;
      // Short enough for a narrow side bar: the icon says the status, the tooltip says the rest.
      item.description = [started, valLoss !== undefined ? valLabel(valLoss) : ''].filter(Boolean).join(' · ');
      item.tooltip = new vscode.MarkdownString(
        [
          `**${r.name}**`,
          r.corpus ?? '',
          `${vscode.l10n.t('status')}: ${statusLabel(r.status)}${r.step !== undefined ? ` · ${vscode.l10n.t('step')} ${r.step}` : ''}`,
          isActive ? vscode.l10n.t('The active model is from this run.') : '',
        ]
          .filter(Boolean)
          .join('\n\n'),
      );
      item.iconPath = new vscode.ThemeIcon(
        r.status === 'training'
          ? 'sync~spin'
          : r.status === 'failed' || r.status === 'unreadable'
            ? 'error'
            : isActive
              ? 'star-full'
              : r.status === 'completed'
                ? 'beaker'
                : 'debug-pause',
      );
      item.contextValue = `run.${r.status}`;
      item.resourceUri = vscode.Uri.file(r.dir);
      item.command = { command: 'corpusLab.openLossChart', title: vscode.l10n.t('Open Loss Chart'), arguments: [node] };
      return item;
    }
    const isBest = bestCheckpoint(node.run)?.dir === node.path;
    const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.None);
    item.description = [
      `${vscode.l10n.t('step')} ${node.step}`,
      node.valLoss !== undefined ? valLabel(node.valLoss) : '',
      isBest ? vscode.l10n.t('best') : '',
    ]
      .filter(Boolean)
      .join(' · ');
    item.tooltip =
      [
        active === node.path ? vscode.l10n.t('The active model.') : '',
        isBest ? vscode.l10n.t('The lowest validation loss of this run.') : '',
      ]
        .filter(Boolean)
        .join(' ') || undefined;
    item.iconPath = new vscode.ThemeIcon(active === node.path ? 'star-full' : isBest ? 'trophy' : 'save');
    item.contextValue = isBest ? 'checkpoint.best' : 'checkpoint';
    item.resourceUri = vscode.Uri.file(node.path);
    return item;
  }

  /** The newest validation loss of a run that is training now (run.json has it only from its last checkpoint). */
  private liveValLoss(r: RunInfo): number | undefined {
    const t = this.ctx.training;
    if (!t || t.runDir !== r.dir) return undefined;
    for (let i = t.events.length - 1; i >= 0; i--) {
      const e = t.events[i];
      if (e.type === 'eval') return e.val_loss;
    }
    return undefined;
  }
}

/** The checkpoint with the lowest validation loss (the newest of equals). */
export function bestCheckpoint(run: Pick<RunInfo, 'checkpoints'>): RunInfo['checkpoints'][number] | undefined {
  return [...run.checkpoints].sort((a, b) => (a.valLoss ?? Infinity) - (b.valLoss ?? Infinity) || b.step - a.step)[0];
}

/** `20250101-120000-speech-en` → label `speech-en`, started `01-01 12:00`; other names stay whole. */
export function splitRunName(name: string): { label: string; started?: string } {
  const m = /^\d{4}(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}-(.+)$/.exec(name);
  return m ? { label: m[5], started: `${m[1]}-${m[2]} ${m[3]}:${m[4]}` } : { label: name };
}

/** Validation loss, short enough for a tree row's description. */
export function valLabel(loss: number): string {
  return vscode.l10n.t('val {0}', loss.toFixed(3));
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
