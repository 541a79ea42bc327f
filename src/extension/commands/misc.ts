import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { rmSync } from 'node:fs';
import { Ctx } from '../ctx';
import { TokensView } from '../webview/tokens-view';
import { LossChartPanel } from '../webview/loss-chart-panel';
import { RunsNode } from '../runs-tree';
import { listRuns } from '../runs';
import { readCorpus } from '../../core/corpus';
import { trainTokenizer } from '../../core/tokenizer';
import { writeFileAtomic } from '../../core/atomic-write';
import { safeName } from '../../core/run-dir';
import { resolveCheckpoint } from '../../core/checkpoint';
import type { GenerateResult } from '../../worker/model/generator';
import { resolveTarget, showError } from './util';

/** Tokenize Document: train the configured tokenizer on the file, save it, and show the file's tokens. */
export function tokenizeCommand(ctx: Ctx, tokens: TokensView) {
  return async (uri?: vscode.Uri) => {
    const target = await resolveTarget(uri);
    if (!target) return undefined;
    try {
      const kind = ctx.config.tokenizer;
      const corpus = readCorpus(target.fsPath);
      const tokenizer = trainTokenizer(corpus.text, { kind });
      const file = join(dirname(ctx.runsRoot()), 'tokenizers', `${safeName(target.fsPath)}-${kind}`, 'tokenizer.json');
      writeFileAtomic(file, tokenizer.toJSON());
      tokens.documentTokenizer = { file, label: basename(target.fsPath) };
      const count = tokenizer.encode(corpus.text).length;
      const chars = [...corpus.text].length;
      await vscode.commands.executeCommand('corpusLab.showTokens');
      const open = vscode.l10n.t('Open tokenizer.json');
      void vscode.window
        .showInformationMessage(vscode.l10n.t('{0} tokenizer: {1} tokens in the vocabulary; {2} tokens for {3} characters ({4} per token).', kind, tokenizer.vocabSize, count, chars, (chars / count).toFixed(2)), open)
        .then((a) => {
          if (a === open) void vscode.window.showTextDocument(vscode.Uri.file(file));
        });
      return { file, vocabSize: tokenizer.vocabSize, tokens: count };
    } catch (e) {
      showError(ctx, (e as Error).message);
      return undefined;
    }
  };
}

/** Set Active Model: from a Runs item, or a pick of every run and checkpoint. */
export function setActiveModelCommand(ctx: Ctx) {
  return async (node?: RunsNode | string) => {
    let path = typeof node === 'string' ? node : node?.path;
    if (!path) {
      const items = listRuns(ctx.runsRoot()).flatMap((r) => [
        { label: r.name, description: r.valLoss !== undefined ? `val ${r.valLoss.toFixed(3)}` : r.status, path: r.dir },
        ...[...r.checkpoints].reverse().map((c) => ({ label: `    ${c.name}`, description: c.valLoss !== undefined ? `val ${c.valLoss.toFixed(3)}` : '', path: c.dir })),
      ]);
      if (items.length === 0) {
        vscode.window.showInformationMessage(vscode.l10n.t('No runs yet: train a model first.'));
        return;
      }
      path = (await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Set Active Model') }))?.path;
    }
    if (!path) return;
    try {
      resolveCheckpoint(path);
    } catch (e) {
      showError(ctx, (e as Error).message);
      return;
    }
    await ctx.setActiveModel(path);
  };
}

/** Generate Sample: continue the selection (or the current line) in a new editor, streaming. */
export function generateSampleCommand(ctx: Ctx) {
  return async (options?: { prompt?: string; maxTokens?: number }) => {
    const model = ctx.activeModel;
    if (!model) {
      vscode.window.showInformationMessage(vscode.l10n.t('No active model: train one, or pick one with Set Active Model.'));
      return undefined;
    }
    if (!(await ctx.mayLoadModelFrom(model))) return undefined;
    const editor = vscode.window.activeTextEditor;
    const prompt = options?.prompt ?? (editor ? (editor.selection.isEmpty ? editor.document.lineAt(editor.selection.active.line).text : editor.document.getText(editor.selection)) : '');
    const doc = await vscode.workspace.openTextDocument({ language: 'plaintext', content: prompt });
    const out = await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
    let chain = Promise.resolve(true);
    const job = ctx.inference.request<GenerateResult>(
      (id) => ({ kind: 'generate', id, checkpoint: model, prompt, options: { temperature: 0.8, topK: 0, topP: 0.95, maxTokens: options?.maxTokens ?? 300, seed: Date.now() >>> 0, stop: [] } }),
      (m) => {
        if (m.kind !== 'text') return;
        chain = chain.then(() => out.edit((b) => b.insert(doc.positionAt(doc.getText().length), m.text), { undoStopBefore: false, undoStopAfter: false }));
      },
    );
    try {
      const result = await job.result;
      await chain;
      return result;
    } catch (e) {
      showError(ctx, (e as Error).message);
      return undefined;
    }
  };
}

export function openLossChartCommand(ctx: Ctx) {
  return (node?: RunsNode) => LossChartPanel.show(ctx, node?.kind === 'run' ? node.path : node?.run.dir);
}

export function revealRunCommand() {
  return (node?: RunsNode) => node && vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(node.path));
}

export function deleteRunCommand(ctx: Ctx) {
  return async (node?: RunsNode) => {
    if (!node) return;
    if (ctx.training?.runDir && node.path.startsWith(ctx.training.runDir)) {
      vscode.window.showWarningMessage(vscode.l10n.t('This run is training: cancel it before deleting.'));
      return;
    }
    const del = vscode.l10n.t('Delete');
    const what = node.kind === 'run' ? vscode.l10n.t('the run {0} and all its checkpoints', node.run.name) : vscode.l10n.t('the checkpoint {0}', node.name);
    if ((await vscode.window.showWarningMessage(vscode.l10n.t('Delete {0}? This cannot be undone.', what), { modal: true }, del)) !== del) return;
    rmSync(node.path, { recursive: true, force: true });
    if (ctx.activeModel && ctx.activeModel.startsWith(node.path)) await ctx.setActiveModel(undefined);
    ctx.runsChangedNow();
  };
}

export function toggleCompletionCommand(ctx: Ctx) {
  return async () => {
    const on = !ctx.config.completionEnabled;
    await ctx.config.setCompletionEnabled(on);
    vscode.window.setStatusBarMessage(on ? vscode.l10n.t('Corpus Lab: inline completion on') : vscode.l10n.t('Corpus Lab: inline completion off'), 3000);
  };
}

export function openSampleCommand(ctx: Ctx) {
  return async () => {
    const ko = vscode.env.language.startsWith('ko');
    const file = vscode.Uri.joinPath(ctx.extension.extensionUri, 'media', 'samples', ko ? 'constitution-ko.txt' : 'shakespeare.txt');
    await vscode.window.showTextDocument(file);
  };
}
