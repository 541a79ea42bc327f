import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { ModelSummary } from '../../src/worker/protocol';
import { workspace, settle } from './fixtures';

// Issue 19: Open Hugging Face Model Folder… opens the Llama family as transformers writes it. The
// fixtures (test/fixtures/hf-llama, copied into the workspace's texts) come from
// test/reference/make_llama_folders.py.
describe('Llama-family Hugging Face folders in the editor (issue 19)', () => {
  let api: CorpusLabApi;
  before(async () => {
    api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
  });

  it('Open Hugging Face Model Folder… opens a sharded BF16 Qwen2 folder: its shape, Korean completion and Next Token over its vocabulary', async () => {
    const previous = api.ctx.activeModel;
    const dir = join(workspace, 'models', 'qwen2-sharded');
    cpSync(join(workspace, 'texts', 'hf-llama', 'qwen2'), dir, { recursive: true });
    const summary = (await vscode.commands.executeCommand('corpusLab.openModelFolder', dir)) as ModelSummary;
    assert.deepEqual(
      [summary.kind, summary.layers, summary.heads, summary.width, summary.vocabSize],
      ['huggingface', 2, 4, 64, JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).vocab_size],
    );
    assert.equal(api.ctx.activeModel, dir);

    const doc = await vscode.workspace.openTextDocument({ language: 'plaintext', content: '대한민국은 민주' });
    const items = await api.completion.provideInlineCompletionItems(
      doc,
      doc.positionAt(doc.getText().length),
      { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined },
      new vscode.CancellationTokenSource().token,
    );
    assert.ok(items && items.length === 1 && (items[0].insertText as string).length > 0, 'completion from the Qwen2 folder');

    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(0, 5, 0, 5);
    await vscode.commands.executeCommand('corpusLab.showNextToken');
    let next = api.nextToken.lastShown;
    for (let i = 0; i < 100 && next?.model !== 'qwen2-sharded'; i++) {
      await settle(100);
      next = api.nextToken.lastShown;
    }
    assert.equal(next?.model, 'qwen2-sharded');
    assert.equal(next?.logits.length, summary.vocabSize, 'logits over the folder’s vocabulary');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    if (previous) await api.ctx.setActiveModel(previous);
  });
});
