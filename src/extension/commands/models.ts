import * as vscode from 'vscode';
import { readFile } from 'node:fs/promises';
import { pathExists, readRegularFileAsync } from '../../core/safe-fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { Ctx, modelName } from '../ctx';
import { RunsNode, bestCheckpoint } from '../runs-tree';
import type { ModelSummary } from '../../worker/protocol';
import { RUN_EXPORTS } from '../../core/runs';
import { ADAPTER_BASE_FILE, ADAPTER_CONFIG_FILE } from '../../core/lora-adapter';
import { HF_INDEX_FILE } from '../../core/hf-weights';
import { parseRunJson } from '../../core/run-json';
import { formatBytes } from '../../core/format-bytes';
import { withParticles } from '../l10n';
import { isFolder, showError } from './util';
import { errorText } from '../error-text';

/**
 * Open Hugging Face Model Folder…: a downloaded GPT-2-family folder (config.json, model.safetensors,
 * tokenizer.json) or a PEFT LoRA adapter folder becomes the active model, after the real loader read
 * it in the inference worker. `folder` and `baseFolder` (an adapter's base) answer the dialogs for
 * tests. Returns the model's summary, or the error shown.
 */
export function openModelFolderCommand(ctx: Ctx) {
  return async (folder?: vscode.Uri | string, baseFolder?: string): Promise<ModelSummary | { error: string } | undefined> => {
    const dir =
      typeof folder === 'string'
        ? folder
        : (
            folder ??
            (
              await vscode.window.showOpenDialog({
                canSelectFolders: true,
                canSelectFiles: false,
                canSelectMany: false,
                title: vscode.l10n.t('Open Hugging Face Model Folder'),
                openLabel: vscode.l10n.t('Open Model'),
              })
            )?.[0]
          )?.fsPath;
    if (!dir) return undefined;
    const adapter = await pathExists(join(dir, ADAPTER_CONFIG_FILE));
    const missing = adapter ? undefined : await missingFile(dir);
    if (missing) {
      showError(ctx, missing);
      return { error: missing };
    }
    const base = adapter ? await pickAdapterBase(dir, typeof baseFolder === 'string' ? baseFolder : undefined) : undefined;
    if (base === null) return undefined;
    if (!(await ctx.mayLoadModelFrom(dir))) return undefined;
    if (base !== undefined && !(await ctx.mayLoadModelFrom(base))) return undefined;
    try {
      const summary = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Loading {0}…', basename(dir)) },
        () => ctx.inference.request((id) => ({ kind: 'open-model', id, path: dir, base })).result,
      );
      await ctx.setActiveModel(summary.dir);
      await ctx.serving.rememberOpened(summary.dir);
      ctx.runsChangedNow();
      void vscode.window.showInformationMessage(
        withParticles(
          vscode.l10n.t(
            '{0} is now the active model: {1} parameters, {2} layers × {3} heads × width {4}, context {5}, {6} tokens ({7} tokenizer). Type in a text file to see completions.',
            basename(summary.dir),
            summary.params.toLocaleString(),
            summary.layers,
            summary.heads,
            summary.width,
            summary.context,
            summary.vocabSize.toLocaleString(),
            summary.tokenizer,
          ),
        ),
      );
      return summary;
    } catch (e) {
      const message = withParticles(vscode.l10n.t('{0} cannot be used as a model: {1}', basename(dir), errorText(e)));
      showError(ctx, message);
      return { error: message };
    }
  };
}

/**
 * The base of a LoRA adapter made by PEFT, which records none Corpus Lab can check (adapter_base.json):
 * the folder its base_model_name_or_path names when that is an absolute path to a folder, else the
 * user's pick (offered: that path read from the adapter's parent folder). The worker records it in
 * the adapter's folder once the adapter fits. undefined: nothing to ask; null: the pick was
 * cancelled. `answer` answers the dialog for tests.
 */
async function pickAdapterBase(dir: string, answer?: string): Promise<string | undefined | null> {
  if (await pathExists(join(dir, ADAPTER_BASE_FILE))) return undefined;
  if (answer !== undefined) return answer;
  let named: unknown;
  try {
    named = JSON.parse(await readFile(join(dir, ADAPTER_CONFIG_FILE), 'utf8')).base_model_name_or_path;
  } catch {
    // The loader reports a broken adapter_config.json once a base is chosen.
  }
  if (typeof named === 'string' && isAbsolute(named) && (await isFolder(named))) return named;
  const suggested = typeof named === 'string' && named !== '' ? resolve(dirname(dir), named) : undefined;
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    defaultUri: suggested && (await isFolder(suggested)) ? vscode.Uri.file(suggested) : undefined,
    title: withParticles(vscode.l10n.t('Choose the base model {0} was trained on', basename(dir))),
    openLabel: vscode.l10n.t('Use as Base'),
  });
  return picked?.[0]?.fsPath ?? null;
}

/** The first reason, in the user's language, that `dir` is not a model folder at all (the loader checks the rest). */
async function missingFile(dir: string): Promise<string | undefined> {
  const name = basename(dir);
  if (!(await pathExists(join(dir, 'config.json')))) {
    return (await pathExists(join(dir, 'run.json')))
      ? withParticles(vscode.l10n.t('{0} is a Corpus Lab run, not a Hugging Face folder: choose it in the Runs view.', name))
      : withParticles(vscode.l10n.t('{0} is not a Hugging Face model folder: it has no config.json.', name));
  }
  for (const file of ['model.safetensors', 'tokenizer.json']) {
    if (await pathExists(join(dir, file))) continue;
    if (file === 'model.safetensors' && (await pathExists(join(dir, HF_INDEX_FILE)))) continue; // shards: the loader checks them
    if (file === 'model.safetensors' && (await pathExists(join(dir, 'pytorch_model.bin')))) {
      return vscode.l10n.t(
        '{0} has only pytorch_model.bin, a pickle that can run code when loaded: Corpus Lab reads model.safetensors only (download that file from the model’s page).',
        name,
      );
    }
    return withParticles(vscode.l10n.t('{0} is not a complete model folder: {1} is missing.', name, file));
  }
  return undefined;
}

/** The checkpoint a Runs item stands for (a run: the one the Runs view marks best, as serving uses). */
export function checkpointOf(node: RunsNode): string | undefined {
  if (node.kind === 'checkpoint') return node.path;
  if (node.kind === 'run') return bestCheckpoint(node.run)?.dir;
  return undefined;
}

/** Merge LoRA Adapter: writes RUN/exports/<checkpoint>-merged (a plain folder of the base's family) in the training worker. */
export function mergeAdapterCommand(ctx: Ctx) {
  return async (node?: RunsNode, options?: { activate?: boolean }): Promise<string | undefined> => {
    const adapter = node && checkpointOf(node);
    if (!node || node.kind === 'base' || !adapter || !node.run.finetune?.lora) {
      vscode.window.showInformationMessage(vscode.l10n.t('Choose a LoRA run or one of its checkpoints in the Runs view.'));
      return undefined;
    }
    const out = join(node.run.dir, RUN_EXPORTS, `${basename(adapter)}-merged`);
    try {
      const r = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: withParticles(vscode.l10n.t('Merging {0} into its base…', modelName(adapter))),
        },
        () => ctx.trainer.request((id) => ({ kind: 'merge', id, adapter, outDir: out })).result,
      );
      ctx.runsChangedNow();
      return await offerActive(
        ctx,
        r.out,
        vscode.l10n.t(
          'Merged {0} LoRA layer(s) into {1} ({2}, a plain {3} folder).',
          r.modules,
          basename(r.out),
          formatBytes(r.bytes),
          r.architecture,
        ),
        options?.activate,
      );
    } catch (e) {
      showError(ctx, errorText(e));
      return undefined;
    }
  };
}

/** Quantize to int8: writes RUN/exports/<checkpoint>-int8 and reports the loss change and size. */
export function quantizeCommand(ctx: Ctx) {
  return async (node?: RunsNode, options?: { activate?: boolean }): Promise<string | undefined> => {
    const checkpoint = node && (node.kind === 'export' ? node.path : checkpointOf(node));
    if (!node || node.kind === 'base' || !checkpoint) {
      vscode.window.showInformationMessage(vscode.l10n.t('Choose a run, checkpoint or merged model in the Runs view.'));
      return undefined;
    }
    const name = node.kind === 'export' ? node.name.replace(/-merged$/, '') : basename(checkpoint);
    const out = join(node.run.dir, RUN_EXPORTS, `${name}-int8`);
    // A merged model is outside its run's checkpoints: it is measured on the run's corpus file.
    const textFile = node.kind === 'export' ? await runCorpus(node.run.dir) : undefined;
    try {
      const r = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: withParticles(vscode.l10n.t('Quantizing {0} to int8…', modelName(checkpoint))),
        },
        () => ctx.trainer.request((id) => ({ kind: 'quantize', id, checkpoint, outDir: out, textFile })).result,
      );
      ctx.runsChangedNow();
      ctx.log.appendLine(`quantize ${checkpoint} → ${r.out}: ${JSON.stringify(r)}`);
      const message = vscode.l10n.t(
        'int8 model {0}: {1} → {2} ({3}×), loss {4} → {5} nats per token, top-1 agreement {6}%.',
        basename(r.out),
        formatBytes(r.bytes_fp32),
        formatBytes(r.bytes_int8),
        r.size_ratio.toFixed(2),
        r.loss_fp32.toFixed(4),
        r.loss_int8.toFixed(4),
        (100 * r.top1_agreement).toFixed(2),
      );
      return await offerActive(ctx, r.out, message, options?.activate);
    } catch (e) {
      showError(ctx, errorText(e));
      return undefined;
    }
  };
}

async function runCorpus(runDir: string): Promise<string | undefined> {
  try {
    return parseRunJson(await readRegularFileAsync(join(runDir, 'run.json')), join(runDir, 'run.json')).corpus.path;
  } catch {
    return undefined;
  }
}

async function offerActive(ctx: Ctx, dir: string, message: string, activate?: boolean): Promise<string> {
  const use = vscode.l10n.t('Set as Active Model');
  if (activate !== undefined) {
    if (activate) await ctx.setActiveModel(dir);
    return dir;
  }
  void vscode.window.showInformationMessage(message, use).then(async (a) => {
    if (a === use) await ctx.setActiveModel(dir);
  });
  return dir;
}

/** Base vs fine-tuned: the same prompt and seed through both models, side by side. */
export function compareSamplesCommand(ctx: Ctx) {
  return async (
    node?: RunsNode,
    options?: { prompt?: string; seed?: number; maxTokens?: number },
  ): Promise<{ base: string; tuned: string; document: vscode.TextDocument } | undefined> => {
    const tuned = node && checkpointOf(node);
    if (!node || node.kind === 'base' || !tuned || !node.run.finetune) {
      vscode.window.showInformationMessage(vscode.l10n.t('Choose a fine-tuned run or one of its checkpoints in the Runs view.'));
      return undefined;
    }
    const base = node.run.finetune.base;
    const prompt =
      options?.prompt ??
      (await vscode.window.showInputBox({
        title: withParticles(vscode.l10n.t('Compare {0} with its base', modelName(tuned))),
        prompt: vscode.l10n.t('Prompt for both models (same seed)'),
        value: await promptFrom(node.run.dir),
      }));
    if (prompt === undefined) return undefined;
    const seed = options?.seed ?? 1;
    const sample = (checkpoint: string) =>
      ctx.inference.request((id) => ({
        kind: 'generate',
        id,
        checkpoint,
        prompt,
        options: { temperature: 0.8, topK: 0, topP: 0.95, maxTokens: options?.maxTokens ?? 120, seed, stop: [] },
      })).result;
    try {
      // One after the other: the inference worker keeps one model loaded at a time.
      const [b, t] = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Sampling from both models…') },
        async () => [await sample(base), await sample(tuned)],
      );
      const content = sideBySide(
        vscode.l10n.t('Base: {0}', modelName(base)),
        prompt + b.text,
        vscode.l10n.t('Fine-tuned: {0}', modelName(tuned)),
        prompt + t.text,
        vscode.l10n.t('Prompt {0} · seed {1} · temperature 0.8 · top-p 0.95', JSON.stringify(prompt), seed),
      );
      const document = await vscode.workspace.openTextDocument({ language: 'markdown', content });
      await vscode.window.showTextDocument(document, { preview: false });
      // The table as two columns (the editor keeps the Markdown to copy from).
      await Promise.resolve(vscode.commands.executeCommand('markdown.showPreviewToSide', document.uri)).catch(() => undefined);
      return { base: b.text, tuned: t.text, document };
    } catch (e) {
      showError(ctx, errorText(e));
      return undefined;
    }
  };
}

/** The first line of the run's corpus (up to 40 characters): a prompt in the fine-tuning text's style. */
export async function promptFrom(runDir: string): Promise<string> {
  const corpus = await runCorpus(runDir);
  if (!corpus) return '';
  const text = await readFile(corpus, 'utf8').catch(() => '');
  return [...(text.split('\n').find((l) => l.trim()) ?? '')].slice(0, 40).join('');
}

/** A Markdown table of two columns; each sample's lines are kept as line breaks in its cell. */
export function sideBySide(leftTitle: string, left: string, rightTitle: string, right: string, caption: string): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
  return `${caption}\n\n| ${cell(leftTitle)} | ${cell(rightTitle)} |\n| --- | --- |\n| ${cell(left)} | ${cell(right)} |\n`;
}
