import * as vscode from 'vscode';
import { basename } from 'node:path';
import { Ctx, modelName } from './ctx';
import { RunInfo, listRuns } from '../core/runs';
import { isInside } from '../core/safe-fs';
import { archContext, runShape, runTraits } from './run-traits';

export type RunsNode =
  | { kind: 'run'; run: RunInfo; path: string }
  | { kind: 'checkpoint'; run: RunInfo; name: string; step: number; valLoss?: number; path: string }
  /** A merged or int8 model written from a run (RUN/exports/NAME). */
  | { kind: 'export'; run: RunInfo; name: string; path: string }
  /** A model folder from elsewhere (Hugging Face) that is active or that runs were fine-tuned from. */
  | { kind: 'base'; name: string; path: string; runs: RunInfo[] };

/**
 * Runs → checkpoints, with their losses; the active model is marked. A fine-tuning run sits under
 * the run its base belongs to, or under a node for its base folder (a Hugging Face model); a run's
 * merged and int8 models are listed under it.
 */
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
    if (!node) {
      const { top, bases } = arrangeRuns(await listRuns(this.ctx.runsRoot()), this.ctx.activeModel);
      return [
        ...bases.map((b): RunsNode => ({ kind: 'base', name: basename(b.path), path: b.path, runs: b.runs })),
        ...top.map((run): RunsNode => ({ kind: 'run', run, path: run.dir })),
      ];
    }
    if (node.kind === 'base') return node.runs.map((run) => ({ kind: 'run', run, path: run.dir }));
    if (node.kind === 'run') {
      const children = (node.run as RunWithChildren).children ?? [];
      return [
        ...[...node.run.checkpoints]
          .reverse()
          .map((c): RunsNode => ({ kind: 'checkpoint', run: node.run, name: c.name, step: c.step, valLoss: c.valLoss, path: c.dir })),
        ...node.run.exports.map((e): RunsNode => ({ kind: 'export', run: node.run, name: e.name, path: e.dir })),
        ...children.map((run): RunsNode => ({ kind: 'run', run, path: run.dir })),
      ];
    }
    return [];
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    const active = this.ctx.activeModel;
    if (node.kind === 'base') {
      const item = new vscode.TreeItem(
        node.name,
        node.runs.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
      );
      const isActive = active === node.path;
      item.description = [vscode.l10n.t('Hugging Face model'), isActive ? vscode.l10n.t('active') : ''].filter(Boolean).join(' · ');
      item.tooltip = node.path;
      item.iconPath = new vscode.ThemeIcon(isActive ? 'star-full' : 'package');
      item.contextValue = 'base';
      item.resourceUri = vscode.Uri.file(node.path);
      return item;
    }
    if (node.kind === 'export') {
      const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.None);
      item.description = [
        node.name.endsWith('-int8') ? 'int8' : vscode.l10n.t('merged'),
        active === node.path ? vscode.l10n.t('active') : '',
      ]
        .filter(Boolean)
        .join(' · ');
      item.iconPath = new vscode.ThemeIcon(active === node.path ? 'star-full' : 'package');
      item.contextValue = 'export';
      item.resourceUri = vscode.Uri.file(node.path);
      return item;
    }
    if (node.kind === 'run') {
      const r = node.run;
      const { label, started } = splitRunName(r.name);
      const children = r.checkpoints.length + r.exports.length + ((r as RunWithChildren).children?.length ?? 0);
      // A fine-tuning run is told apart by its base (in the description); one trained from scratch by the blocks it chose.
      const traits = !r.finetune && r.model ? runTraits(r.model) : undefined;
      const item = new vscode.TreeItem(
        traits ? `${label} · ${traits}` : label,
        children ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
      );
      const isActive = active !== undefined && isInside(active, r.dir) && !r.exports.some((e) => isInside(active, e.dir));
      const ft =
        r.finetune &&
        (r.finetune.lora
          ? vscode.l10n.t('LoRA r={0} on {1}', r.finetune.lora.r, modelName(r.finetune.base))
          : vscode.l10n.t('fine-tuned from {0}', modelName(r.finetune.base)));
      // The best checkpoint's (the one the run serves), not the last evaluation's: on a small text the last has often overfit.
      const valLoss = this.liveValLoss(r) ?? bestCheckpoint(r)?.valLoss ?? r.valLoss;
      // Short enough for a narrow side bar: the icon says the status, the tooltip says the rest.
      item.description = [ft, started, valLoss !== undefined ? valLabel(valLoss) : ''].filter(Boolean).join(' · ');
      item.tooltip = new vscode.MarkdownString(
        [
          `**${r.name}**`,
          r.corpus ?? '',
          traits && r.model ? `${traits} · ${runShape(r.model)}` : '',
          r.finetune ? `${vscode.l10n.t('base')}: ${r.finetune.base}` : '',
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
                ? r.finetune
                  ? 'git-branch'
                  : 'beaker'
                : 'debug-pause',
      );
      // The experiments' menu entries show only where they can run (LayerNorm vs DyT: on GPT-2 blocks).
      item.contextValue = `run.${r.status}${r.finetune ? (r.finetune.lora ? '.lora' : '.finetune') : archContext(r.model)}`;
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
    const kind = node.run.finetune?.lora ? '.lora' : node.run.finetune ? '.finetune' : '';
    item.contextValue = `checkpoint${kind}${isBest ? '.best' : ''}`;
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

type RunWithChildren = RunInfo & { children?: RunInfo[] };

/**
 * Fine-tuning runs go under the run their base belongs to; those whose base is a folder outside
 * every run (a Hugging Face model) go under a node for it, as does the active model when it is one.
 */
export function arrangeRuns(runs: RunInfo[], activeModel?: string): { top: RunWithChildren[]; bases: { path: string; runs: RunInfo[] }[] } {
  const top: RunWithChildren[] = [];
  const bases = new Map<string, RunInfo[]>();
  const copies = new Map(runs.map((r) => [r.dir, { ...r } as RunWithChildren]));
  for (const r of copies.values()) {
    const base = r.finetune?.base;
    const parent = base === undefined ? undefined : [...copies.values()].find((p) => p !== r && isInside(base, p.dir));
    if (parent) (parent.children ??= []).push(r);
    else if (base !== undefined && !isRunCheckpoint(base)) bases.set(base, [...(bases.get(base) ?? []), r]);
    else top.push(r);
  }
  if (activeModel && !bases.has(activeModel) && !isRunCheckpoint(activeModel) && !runs.some((r) => isInside(activeModel, r.dir)))
    bases.set(activeModel, []);
  return { top, bases: [...bases].map(([path, rs]) => ({ path, runs: rs })) };
}

/** …/RUN/checkpoints/NAME, or a run folder's exports: a model that belongs to a run (listed or not). */
function isRunCheckpoint(path: string): boolean {
  return /[\\/](checkpoints|exports)[\\/][^\\/]+[\\/]?$/.test(path);
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
