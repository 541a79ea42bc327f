import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { listRuns } from '../core/runs';
import { bestCheckpoint } from './runs-tree';
import { Config } from './config';
import { isInside, pathExists } from '../core/safe-fs';
import { WorkerClient } from './worker-client';
import { TrainEvent } from '../core/train-events';
import { ServingModels } from './serving-model';

export interface ActiveTraining {
  jobId: number;
  runDir?: string;
  corpus: vscode.Uri;
  events: TrainEvent[];
  cancel(): void;
}

const ACTIVE_MODEL_KEY = 'corpusLab.activeModel';

/** What every command, view and provider shares: settings, workers, the log, the active (default) model, the model serving each document, and training. */
export class Ctx implements vscode.Disposable {
  readonly config = new Config();
  readonly log: vscode.LogOutputChannel | vscode.OutputChannel;
  readonly trainer: WorkerClient;
  readonly inference: WorkerClient;
  training?: ActiveTraining;

  private readonly trainEvents = new vscode.EventEmitter<{ jobId: number; event: TrainEvent }>();
  readonly onTrainEvent = this.trainEvents.event;
  private readonly activeModelChanged = new vscode.EventEmitter<string | undefined>();
  readonly onDidChangeActiveModel = this.activeModelChanged.event;
  private readonly runsChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeRuns = this.runsChanged.event;
  /** A training run ended, however it ended (a crashed worker sends no 'done' event). */
  private readonly trainingEnded = new vscode.EventEmitter<void>();
  readonly onDidEndTraining = this.trainingEnded.event;
  /** Which model serves each document (the active model is the default). */
  readonly serving: ServingModels;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('Corpus Lab', 'corpus-lab-log');
    const script = vscode.Uri.joinPath(extension.extensionUri, 'dist', 'worker.js').fsPath;
    const write = (line: string) => this.log.appendLine(line);
    // Training and inference get a thread each, so a completion never waits for a training step.
    // On a busy CPU the editor comes first, then completions, then training (nice 0 < 5 < 10).
    this.trainer = new WorkerClient(script, 'training', write, 10);
    this.inference = new WorkerClient(script, 'inference', write, 5);
    this.serving = new ServingModels(this);
  }

  fireTrainEvent(jobId: number, event: TrainEvent): void {
    this.trainEvents.fire({ jobId, event });
  }

  runsChangedNow(): void {
    this.runsChanged.fire();
  }

  endTraining(): void {
    this.training = undefined;
    this.trainingEnded.fire();
  }

  get activeModel(): string | undefined {
    return this.extension.workspaceState.get<string>(ACTIVE_MODEL_KEY);
  }

  async setActiveModel(path: string | undefined): Promise<void> {
    await this.extension.workspaceState.update(ACTIVE_MODEL_KEY, path);
    this.activeModelChanged.fire(path);
  }

  /**
   * When the active model's folder is gone (deleted, pruned, moved), says so and offers the next
   * best: its run's best checkpoint, else the newest run's. Returns what it offered.
   */
  async checkActiveModel(): Promise<{ vanished: string; offered?: string } | undefined> {
    const active = this.activeModel;
    if (!active || (await pathExists(active))) return undefined;
    await this.setActiveModel(undefined);
    const runs = await listRuns(this.runsRoot());
    const ownRun = runs.find((r) => r.dir === dirname(dirname(active)) || r.dir === active);
    const candidates = ownRun?.checkpoints.length ? ownRun.checkpoints : (runs.find((r) => r.checkpoints.length)?.checkpoints ?? []);
    const best = bestCheckpoint({ checkpoints: candidates });
    const offered = best?.dir;
    this.log.appendLine(`the active model ${active} no longer exists${offered ? `; offered ${offered}` : ''}`);
    const use = offered ? vscode.l10n.t('Use {0}', modelName(offered)) : undefined;
    const message = vscode.l10n.t('The active model {0} no longer exists, so completion is off.', modelName(active));
    void vscode.window.showWarningMessage(message, ...(use ? [use] : [])).then(async (answer) => {
      if (answer === use && offered && !this.activeModel) await this.setActiveModel(offered);
    });
    return { vanished: active, offered };
  }

  /** Where runs go: the setting, else .corpus-lab/runs in the first workspace folder, else global storage. */
  runsRoot(): string {
    const configured = this.config.runsFolder.trim();
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (configured) return folder && !configured.startsWith('/') && !/^[A-Za-z]:/.test(configured) ? join(folder, configured) : configured;
    if (folder) return join(folder, '.corpus-lab', 'runs');
    return join(this.extension.globalStorageUri.fsPath, 'runs');
  }

  /**
   * Puts a `.gitignore` of `*` in the workspace's `.corpus-lab` folder (runs, tokenizers), so models
   * of megabytes are not committed by accident. Leaves an existing one alone.
   */
  async ignoreInGit(): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!folder) return;
    const lab = join(folder, '.corpus-lab');
    if (!isInside(this.runsRoot(), lab)) return;
    await mkdir(lab, { recursive: true });
    await writeFile(join(lab, '.gitignore'), '# Written by Corpus Lab: models and tokenizers are not for version control.\n*\n', {
      flag: 'wx',
    }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') this.log.appendLine(`could not write ${join(lab, '.gitignore')}: ${e.message}`);
    });
  }

  /**
   * In a restricted (untrusted) workspace, a model stored inside the workspace is loaded only after
   * the user says so: a checkpoint is data, but the user should decide to act on it.
   */
  async mayLoadModelFrom(path: string): Promise<boolean> {
    if (vscode.workspace.isTrusted) return true;
    const inside = (vscode.workspace.workspaceFolders ?? []).some((f) => isInside(path, f.uri.fsPath));
    if (!inside) return true;
    const allowed = this.extension.workspaceState.get<string[]>('corpusLab.allowedModels', []);
    if (allowed.includes(path)) return true;
    const load = vscode.l10n.t('Load Model');
    const answer = await vscode.window.showWarningMessage(
      vscode.l10n.t('This workspace is in Restricted Mode. Load the model stored in it ({0})?', path),
      { modal: true },
      load,
    );
    if (answer !== load) return false;
    await this.extension.workspaceState.update('corpusLab.allowedModels', [...allowed, path]);
    return true;
  }

  dispose(): void {
    void this.trainer.terminate();
    void this.inference.terminate();
    this.serving.dispose();
    this.trainEvents.dispose();
    this.activeModelChanged.dispose();
    this.runsChanged.dispose();
    this.trainingEnded.dispose();
    this.log.dispose();
  }
}

/** A model path as people read it: `run/checkpoint`. */
export function modelName(path: string): string {
  const parts = path.split(/[\\/]/);
  const i = parts.lastIndexOf('checkpoints');
  return i > 0 ? `${parts[i - 1]}/${parts[i + 1] ?? ''}` : basename(path);
}
