import * as vscode from 'vscode';
import { Ctx } from '../ctx';
import { showError } from './util';

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
    const job = ctx.inference.request(
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
