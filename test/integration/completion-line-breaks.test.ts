import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import { startTraining } from '../../src/extension/commands/train';
import { ko, workspace } from './fixtures';

// Issue 18 item 22: a model trained on a text with Windows line breaks (CRLF) writes "\r" before
// each "\n". One-line ghost text stopped at "\n" only, so it could hold a "\r", which VS Code takes
// for a line break: a second ghost line, inserted by Tab.
describe('Inline completion from a model trained on a CRLF text (issue 18 item 22)', () => {
  it('one-line ghost text stops at "\\r" as well as "\\n"', async () => {
    const api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
    const activeBefore = api.ctx.activeModel;
    const crlf = vscode.Uri.file(join(workspace, 'texts', 'crlf-ko.txt'));
    writeFileSync(crlf.fsPath, readFileSync(ko.fsPath, 'utf8').replace(/\n/g, '\r\n'));
    const shape = { layers: 1, heads: 2, width: 32, context: 32, batch: 8 };
    const result = await startTraining(api.ctx, crlf, { ...shape, corpusPath: crlf.fsPath, runsRoot: api.ctx.runsRoot(), maxSteps: 150 });
    assert.equal(result?.reason, 'completed');
    try {
      await api.ctx.setActiveModel(result!.checkpoint);
      const doc = await vscode.workspace.openTextDocument(crlf);
      await vscode.window.showTextDocument(doc);
      const context = {
        triggerKind: vscode.InlineCompletionTriggerKind.Invoke,
        selectedCompletionInfo: undefined,
      } as vscode.InlineCompletionContext;
      const source = new vscode.CancellationTokenSource();
      // Inside lines and at their ends, where the model expects the line break next.
      const positions = [2, 5, 6, 7, 8, 9, 10, 11].flatMap((line) => [
        new vscode.Position(line, Math.min(8, doc.lineAt(line).text.length)),
        doc.lineAt(line).range.end,
      ]);
      const texts: string[] = [];
      for (const position of positions) {
        const items = await api.completion.provideInlineCompletionItems(doc, position, context, source.token);
        if (items?.length) texts.push(items[0].insertText as string);
      }
      assert.ok(texts.length > 0, 'no completion at all');
      assert.deepEqual(
        texts.filter((t) => /[\r\n]/.test(t)),
        [],
        'ghost text with a line break',
      );
    } finally {
      await api.ctx.setActiveModel(activeBefore);
    }
  });
});
