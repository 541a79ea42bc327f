import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { existsSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { TrainResult } from '../../src/worker/trainer';
import { Tokenizer } from '../../src/core/tokenizer';
import { cleanText } from '../../src/core/clean';
import { resolveCheckpoint } from '../../src/core/checkpoint';

const workspace = process.env.CORPUS_LAB_TEST_WORKSPACE!;
const en = vscode.Uri.file(join(workspace, 'texts', 'speech-en.txt'));
const ko = vscode.Uri.file(join(workspace, 'texts', 'speech-ko.txt'));
let api: CorpusLabApi;

async function settle(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
}

/** A 10 ms timer on the host thread; `stop()` returns the worst delay it saw (ms). */
function heartbeat(): { stop(): number } {
  let maxLag = 0;
  let last = performance.now();
  const beat = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - last - 10);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(beat);
      return maxLag;
    },
  };
}

describe('Corpus Lab in a real VS Code extension host', () => {
  before(async () => {
    const ext = vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab');
    assert.ok(ext, 'extension is installed');
    api = await ext.activate();
  });

  it('registers every command', async () => {
    const all = await vscode.commands.getCommands(true);
    for (const id of ['cleanDocument', 'tokenizeDocument', 'train', 'cancelTraining', 'resumeTraining', 'generateSample', 'setActiveModel', 'toggleInlineCompletion', 'openLossChart', 'showTokens']) {
      assert.ok(all.includes(`corpusLab.${id}`), id);
    }
  });

  it('trains a tiny model on an English file, off the host thread (heartbeat never lags 100 ms), and writes checkpoints', async () => {
    const beat = heartbeat();
    let maxLag = 0;
    try {
      const result = (await vscode.commands.executeCommand('corpusLab.train', en, { preset: 'tiny', maxSteps: 30 })) as TrainResult;
      assert.equal(result.reason, 'completed');
      assert.equal(result.step, 30);
      assert.ok(existsSync(join(result.checkpoint, 'model.safetensors')));
      assert.ok(Number.isFinite(result.valLoss));
    } finally {
      maxLag = beat.stop();
    }
    assert.ok(maxLag < 100, `host heartbeat lagged ${maxLag.toFixed(1)} ms`);
    const runs = readdirSync(join(workspace, '.corpus-lab', 'runs'));
    assert.ok(runs.some((r) => r.endsWith('speech-en')));
  });

  it('trains on a Korean file and makes it the active model', async () => {
    const result = (await vscode.commands.executeCommand('corpusLab.train', ko, { preset: 'tiny', maxSteps: 40 })) as TrainResult;
    assert.equal(result.reason, 'completed');
    assert.equal(api.ctx.activeModel, result.checkpoint);
    const tok = Tokenizer.load(join(result.checkpoint, 'tokenizer.json'));
    assert.ok(tok.encode('대한민국').every((id) => !tok.isByteFallback(id)));
  });

  it('cancel stops within seconds and keeps a checkpoint', async () => {
    const started = new Promise<void>((resolve) => {
      const sub = api.ctx.onTrainEvent(({ event }) => {
        if (event.type === 'step' && event.step >= 3) {
          sub.dispose();
          resolve();
        }
      });
    });
    const running = vscode.commands.executeCommand('corpusLab.train', en, { preset: 'tiny', maxSteps: 100000 }) as Thenable<TrainResult>;
    await started;
    const t0 = performance.now();
    await vscode.commands.executeCommand('corpusLab.cancelTraining');
    const result = await running;
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(result.reason, 'cancelled');
    assert.ok(existsSync(join(result.checkpoint, 'optimizer.safetensors')));
    assert.ok(seconds < 5, `cancel took ${seconds.toFixed(1)} s`);
  });

  it('inline completion returns text from the trained model, and nothing when disabled', async () => {
    const doc = await vscode.workspace.openTextDocument({ language: 'plaintext', content: '대한민국은 ' });
    await vscode.window.showTextDocument(doc);
    const pos = doc.positionAt(doc.getText().length);
    const source = new vscode.CancellationTokenSource();
    const context = { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined } as vscode.InlineCompletionContext;
    const items = await api.completion.provideInlineCompletionItems(doc, pos, context, source.token);
    assert.ok(items && items.length === 1, 'one completion');
    const text = items[0].insertText as string;
    assert.ok(text.length > 0 && !text.includes('\n'));
    await vscode.workspace.getConfiguration('corpusLab').update('completion.enabled', false, vscode.ConfigurationTarget.Global);
    try {
      assert.equal(await api.completion.provideInlineCompletionItems(doc, pos, context, source.token), undefined);
    } finally {
      await vscode.workspace.getConfiguration('corpusLab').update('completion.enabled', true, vscode.ConfigurationTarget.Global);
    }
    const md = await vscode.workspace.openTextDocument({ language: 'python', content: 'x = ' });
    assert.equal(await api.completion.provideInlineCompletionItems(md, md.positionAt(4), context, source.token), undefined);
  });

  it('the Tokens view shows exactly the active tokenizer’s encoding (Korean)', async () => {
    const editor = await vscode.window.showTextDocument(ko);
    editor.selection = new vscode.Selection(0, 0, 3, 0);
    await vscode.commands.executeCommand('corpusLab.showTokens');
    let shown = api.tokens.lastShown;
    for (let i = 0; i < 50 && shown?.text !== editor.document.getText(editor.selection); i++) {
      await settle(100);
      shown = api.tokens.lastShown;
    }
    assert.ok(shown, 'the view rendered');
    const tok = Tokenizer.load(join(resolveCheckpoint(api.ctx.activeModel!), 'tokenizer.json'));
    assert.equal(shown.text, editor.document.getText(editor.selection));
    assert.deepEqual(shown.ids, tok.encode(shown.text));
  });

  it('Clean Document writes what core cleanText produces, only when applied', async () => {
    const file = join(workspace, 'texts', 'messy.md');
    const original = '# 제목\r\n\r\n\r\n\r\nSome **bold** 텍스트\u200B  \r\nhttps://example.com\r\n';
    writeFileSync(file, original);
    const rules = { markup: true, urls: true };
    const report = await vscode.commands.executeCommand('corpusLab.cleanDocument', vscode.Uri.file(file), { rules, apply: true });
    assert.ok(report);
    assert.equal(readFileSync(file, 'utf8'), cleanText(original, rules).text);
  });

  it('a worker that dies mid-training is reported, the host keeps running, and training works again', async () => {
    const running = vscode.commands.executeCommand('corpusLab.train', en, { preset: 'tiny', maxSteps: 100000 }) as Thenable<TrainResult | undefined>;
    await new Promise<void>((resolve) => {
      const sub = api.ctx.onTrainEvent(({ event }) => {
        if (event.type === 'step' && event.step >= 2) {
          sub.dispose();
          resolve();
        }
      });
    });
    await api.ctx.trainer.terminate();
    assert.equal(await running, undefined);
    assert.equal(api.ctx.training, undefined);
    const again = (await vscode.commands.executeCommand('corpusLab.train', en, { preset: 'tiny', maxSteps: 3 })) as TrainResult;
    assert.equal(again.reason, 'completed');
  });

  it('rapid typing (50 keys/s for 10 s) during training: stale requests cancelled, no queue, host responsive, memory flat', async () => {
    const config = vscode.workspace.getConfiguration('corpusLab');
    await config.update('completion.debounceMs', 0, vscode.ConfigurationTarget.Global);
    const running = vscode.commands.executeCommand('corpusLab.train', ko, { preset: 'tiny', maxSteps: 100000 }) as Thenable<TrainResult>;
    const doc = await vscode.workspace.openTextDocument({ language: 'plaintext', content: '' });
    const context = { triggerKind: vscode.InlineCompletionTriggerKind.Automatic, selectedCompletionInfo: undefined } as vscode.InlineCompletionContext;
    const beat = heartbeat();
    let maxLag = 0;
    let maxPending = 0;
    let answered = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    try {
      let text = '대한민국은 민주공화국이다 ';
      let previous: vscode.CancellationTokenSource | undefined;
      const calls: Thenable<unknown>[] = [];
      const until = performance.now() + 10_000;
      while (performance.now() < until) {
        previous?.cancel();
        const source = new vscode.CancellationTokenSource();
        previous = source;
        text += '가나다라 '[Math.floor(Math.random() * 5)];
        const fake = { ...doc, languageId: 'plaintext', getText: (r?: vscode.Range) => (r ? text.slice(0, r.end.character) : text), offsetAt: (p: vscode.Position) => p.character, positionAt: (o: number) => new vscode.Position(0, o) } as unknown as vscode.TextDocument;
        calls.push(api.completion.provideInlineCompletionItems(fake, new vscode.Position(0, text.length), context, source.token).then((r) => r && answered++));
        maxPending = Math.max(maxPending, api.ctx.inference.pending);
        await settle(20);
      }
      await Promise.all(calls);
    } finally {
      maxLag = beat.stop();
      await config.update('completion.debounceMs', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('corpusLab.cancelTraining');
    }
    await running;
    const heapGrowth = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
    assert.ok(maxLag <= 100, `host heartbeat lagged ${maxLag.toFixed(1)} ms`);
    // A few requests are always in transit (sent, cancel on its way); a queue would grow into the hundreds.
    assert.ok(maxPending <= 8, `${maxPending} completion requests were waiting at once`);
    assert.equal(api.ctx.inference.pending, 0);
    assert.ok(heapGrowth < 40, `host heap grew ${heapGrowth.toFixed(1)} MB`);
    console.log(`[corpus-lab-test]       load: max heartbeat lag ${maxLag.toFixed(1)} ms, max pending ${maxPending}, answered ${answered}, heap growth ${heapGrowth.toFixed(1)} MB`);
  });
});
