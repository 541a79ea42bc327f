import * as vscode from 'vscode';
import { currentTextEditor } from './text-editor';
import { basename, dirname, resolve } from 'node:path';
import type { Ctx } from './ctx';
import { RunInfo, listRuns } from '../core/runs';
import { isInside, pathExists } from '../core/safe-fs';
import { ServingChoice, TrainedOnFile, bestTrainedOnFile, chooseServingModel, unknownLetterShare } from '../core/model-choice';
import { TokenizerCache } from './tokenizer-cache';
import { bestCheckpoint } from './runs-tree';

const CHOICES_KEY = 'corpusLab.documentModels';
/** Model folders opened from elsewhere (Hugging Face), newest first: they stay choosable once another model is active. */
const OPENED_KEY = 'corpusLab.openedModels';
const OPENED_KEPT = 10;
/** Characters read from the top of a document to tell its language: enough letters, little work per keystroke. */
const LANGUAGE_SAMPLE_CHARS = 4000;

/** The text of a document that tells its language. */
export function languageSample(doc: vscode.TextDocument): string {
  return doc.getText(new vscode.Range(new vscode.Position(0, 0), doc.positionAt(LANGUAGE_SAMPLE_CHARS)));
}

export interface Serving extends ServingChoice {
  /** Share of the document's letters the model's tokenizer never learned (undefined: no letters yet). */
  unknownShare?: number;
}

/** A model that can serve documents: a run's (the active model when it is in that run, else its best checkpoint), or the active model from elsewhere. */
export interface ServingCandidate {
  model: string;
  run?: RunInfo;
}

/** The model serving a file that was trained on it, or the one the user chose for it. */
export type FileServer = TrainedOnFile & { runDir?: string; chosen?: boolean };

/** A run's candidate as a model trained on its corpus: its checkpoint's loss and what that loss means. */
function trainedOnFile(c: ServingCandidate): FileServer {
  return {
    model: c.model,
    valLoss: c.run?.checkpoints.find((k) => k.dir === c.model)?.valLoss,
    tokensPerByte: c.run?.tokensPerByte,
    experiment: c.run?.experiment,
    runDir: c.run?.dir,
  };
}

/**
 * Which model serves each document: the user's choice for it (kept in workspace state), else the
 * model trained on that very file, else the one whose tokenizer knows the document's letters, else
 * the active model (the default).
 */
export class ServingModels implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** A choice, the runs or the default changed: what serves a document may have too. */
  readonly onDidChange = this.changed.event;
  private runs?: Promise<RunInfo[]>;
  /** Each model's learned characters (undefined: its tokenizer could not be read). */
  private readonly learned = new Map<string, Promise<ReadonlySet<string> | null | undefined>>();
  private readonly tokenizers = new TokenizerCache();
  private readonly subs: vscode.Disposable[];

  constructor(private readonly ctx: Ctx) {
    this.subs = [
      ctx.onDidChangeRuns(() => this.invalidate()),
      ctx.onDidChangeActiveModel(() => this.changed.fire()),
      ctx.onTrainEvent(({ event }) => event.type === 'checkpoint' && this.invalidate()),
    ];
  }

  private invalidate(): void {
    this.runs = undefined;
    this.changed.fire();
  }

  /** The model the user chose for this document, if any. */
  chosenFor(uri: vscode.Uri): string | undefined {
    return this.choices()[uri.toString()];
  }

  /** Remembers `model` for this document; undefined goes back to choosing automatically. */
  async choose(uri: vscode.Uri, model: string | undefined): Promise<void> {
    const all = { ...this.choices() };
    if (model) all[uri.toString()] = model;
    else delete all[uri.toString()];
    await this.ctx.extension.workspaceState.update(CHOICES_KEY, all);
    this.changed.fire();
  }

  /** Remembers a model folder opened from elsewhere, so a file can be given it after another model became active. */
  async rememberOpened(model: string): Promise<void> {
    const opened = [model, ...this.opened().filter((m) => m !== model)].slice(0, OPENED_KEPT);
    await this.ctx.extension.workspaceState.update(OPENED_KEY, opened);
    this.invalidate();
  }

  private opened(): string[] {
    return this.ctx.extension.workspaceState.get<string[]>(OPENED_KEY, []);
  }

  private choices(): Record<string, string> {
    return this.ctx.extension.workspaceState.get<Record<string, string>>(CHOICES_KEY, {});
  }

  /**
   * Every model that can serve a document: one per run with checkpoints, newest run first; the runs'
   * merged and int8 models; the folders opened from elsewhere that are still there; the active model.
   */
  async candidates(): Promise<ServingCandidate[]> {
    const fresh = this.runs === undefined;
    this.runs ??= listRuns(this.ctx.runsRoot());
    const active = this.ctx.activeModel;
    const out: ServingCandidate[] = [];
    for (const run of await this.runs) {
      const best = bestCheckpoint(run);
      if (!best) continue;
      const holdsActive = active !== undefined && isInside(active, run.dir) && !run.exports.some((e) => isInside(active, e.dir));
      out.push({ model: holdsActive ? active : best.dir, run });
    }
    for (const run of await this.runs) for (const e of run.exports) out.push({ model: e.dir });
    for (const model of this.opened()) if (!out.some((c) => c.model === model) && (await pathExists(model))) out.push({ model });
    if (active && !out.some((c) => c.model === active)) out.push({ model: active });
    // Checkpoints a run has moved past (pruned, or no longer its best) are forgotten.
    if (fresh) for (const model of this.learned.keys()) if (!out.some((c) => c.model === model)) this.learned.delete(model);
    return out;
  }

  /** The model that serves `doc`, and why. */
  async forDocument(doc: vscode.TextDocument): Promise<Serving | undefined> {
    const candidates = await this.candidates();
    const sample = languageSample(doc);
    const chosen = await this.existingChoice(doc.uri, candidates);
    const active = this.ctx.activeModel;
    const trainedOnFile = bestTrainedOnFile(this.trainedOn(doc.uri, candidates), active);
    const scored =
      chosen || trainedOnFile
        ? []
        : await Promise.all(candidates.map(async (c) => ({ model: c.model, unknownShare: await this.unknownShare(c.model, sample) })));
    const choice = chooseServingModel({ chosen, trainedOnFile, defaultModel: active, candidates: scored });
    if (!choice) return undefined;
    const known = scored.find((s) => s.model === choice.model);
    return { ...choice, unknownShare: known ? known.unknownShare : await this.unknownShare(choice.model, sample) };
  }

  /** The models trained on the file `uri` names, newest run first. */
  private trainedOn(uri: vscode.Uri, candidates: ServingCandidate[]): FileServer[] {
    if (uri.scheme !== 'file') return [];
    const file = resolve(uri.fsPath);
    return candidates.filter((c) => c.run?.corpus !== undefined && resolve(c.run.corpus) === file).map(trainedOnFile);
  }

  /**
   * What serves the file `uri` names now, when that is the user's choice for it or a model trained
   * on it; undefined when no such model does (a new model trained on the file may take it).
   */
  async fileServer(uri: vscode.Uri): Promise<FileServer | undefined> {
    const candidates = await this.candidates();
    const chosen = await this.existingChoice(uri, candidates);
    if (chosen) {
      const known = candidates.find((c) => c.model === chosen);
      return { ...(known ? trainedOnFile(known) : { model: chosen }), chosen: true };
    }
    const onFile = this.trainedOn(uri, candidates);
    const model = bestTrainedOnFile(onFile, this.ctx.activeModel);
    return onFile.find((c) => c.model === model);
  }

  /** The model serving the active editor's document; with no editor, the default. */
  async forActiveEditor(): Promise<Serving | undefined> {
    const doc = currentTextEditor()?.document;
    if (doc) return this.forDocument(doc);
    const active = this.ctx.activeModel;
    return active ? { model: active, reason: 'default' } : undefined;
  }

  /** unknownLetterShare of `text` for this model's tokenizer (undefined: no letters, or no tokenizer to ask). */
  async unknownShare(model: string, text: string): Promise<number | undefined> {
    const learned = await this.learnedCharacters(model);
    return learned === undefined ? undefined : unknownLetterShare(text, learned);
  }

  private learnedCharacters(model: string): Promise<ReadonlySet<string> | null | undefined> {
    let learned = this.learned.get(model);
    if (!learned) {
      learned = this.tokenizers.forModel(model).then(
        (t) => t.learnedCharacters(),
        (e: Error) => {
          this.ctx.log.appendLine(`cannot read the tokenizer of ${model}: ${e.message}`);
          this.learned.delete(model);
          return undefined;
        },
      );
      this.learned.set(model, learned);
    }
    return learned;
  }

  /**
   * The document's chosen model if it is still on disk. A checkpoint pruned by its run (which moved
   * on) is replaced by what that run serves now; a model gone with its run is forgotten, with a word.
   */
  private async existingChoice(uri: vscode.Uri, candidates: ServingCandidate[]): Promise<string | undefined> {
    const chosen = this.chosenFor(uri);
    if (!chosen) return undefined;
    if (await pathExists(chosen)) return chosen;
    const successor = candidates.find((c) => c.run && (c.run.dir === dirname(dirname(chosen)) || c.run.dir === chosen))?.model;
    this.ctx.log.appendLine(
      `the model chosen for ${uri.toString()} (${chosen}) no longer exists; ${successor ? `now ${successor}` : 'automatic again'}`,
    );
    await this.choose(uri, successor);
    if (!successor)
      void vscode.window.showWarningMessage(
        vscode.l10n.t('The model chosen for {0} no longer exists: a model is chosen for it automatically again.', basename(uri.path)),
      );
    return successor;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.changed.dispose();
  }
}
