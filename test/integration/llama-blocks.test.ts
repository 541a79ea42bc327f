import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { copyFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { TrainResult } from '../../src/worker/train/trainer';
import type { TrainEvent } from '../../src/core/train-events';
import type { CompareData } from '../../src/extension/webview/compare-protocol';
import { readRunJson } from '../../src/core/run-json';
import { resolveCheckpoint } from '../../src/core/checkpoint';
import { en, ko, until, workspace } from './fixtures';
import { PresetRow, withPresetPick } from './preset-pick';

// Issue 19 items 1, 2 and 5: a Llama-style model trained from the right-click menu's preset pick
// completes Korean and shows its attention by key/value group; the GPT-2 block vs Llama block
// experiment; an opened Qwen2 folder (BF16, sharded) in Next Token and Attention.
let api: CorpusLabApi;

const context = {
  triggerKind: vscode.InlineCompletionTriggerKind.Invoke,
  selectedCompletionInfo: undefined,
} as vscode.InlineCompletionContext;

async function complete(uri: vscode.Uri): Promise<string | undefined> {
  const doc = await vscode.workspace.openTextDocument(uri);
  const items = await api.completion.provideInlineCompletionItems(
    doc,
    doc.positionAt(doc.getText().length),
    context,
    new vscode.CancellationTokenSource().token,
  );
  return items?.[0]?.insertText as string | undefined;
}

/** The Attention panel's payload for `uri`'s first line, once it is about the model named `model`. */
async function attentionOf(uri: vscode.Uri, model: string) {
  const editor = await vscode.window.showTextDocument(uri);
  editor.selection = new vscode.Selection(0, 0, 0, 0);
  await vscode.commands.executeCommand('corpusLab.showAttention');
  return until('the attention payload', () => {
    const shown = api.panels.attention.lastShown;
    return shown?.model === model && shown.source.startsWith(uri.fsPath.split('/').pop()!) ? shown : undefined;
  });
}

describe('Llama-style models in the extension (issue 19)', () => {
  const llamaText = vscode.Uri.file(join(workspace, 'texts', 'speech-ko-llama.txt'));
  let llamaRun: string;
  let activeBefore: string | undefined;

  before(async () => {
    api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
    activeBefore = api.ctx.activeModel;
    copyFileSync(ko.fsPath, llamaText.fsPath);
  });

  after(async () => {
    await api.ctx.setActiveModel(activeBefore);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('Train Model on This File: the pick offers Llama Tiny with its own estimate; chosen, it trains Llama blocks that complete Korean and show attention by kv group', async () => {
    const starts: Extract<TrainEvent, { type: 'start' }>[] = [];
    const sub = api.ctx.onTrainEvent(({ event }) => event.type === 'start' && starts.push(event));
    let result: TrainResult;
    let llamaRow: PresetRow | undefined;
    let gpt2Row: PresetRow | undefined;
    try {
      result = await withPresetPick(async (shown, choose) => {
        // As the explorer's right-click menu calls it (the file), with a short length for the test.
        const running = vscode.commands.executeCommand('corpusLab.train', llamaText, { maxSteps: 60 }) as Thenable<TrainResult>;
        const rows = (await shown(true)).items;
        llamaRow = rows.find((i) => i.label === 'Llama Tiny')!;
        gpt2Row = rows.find((i) => i.label === 'Tiny')!;
        assert.ok(llamaRow && gpt2Row && rows.some((i) => i.label === 'Llama Small'), rows.map((i) => i.label).join());
        assert.deepEqual(llamaRow.choice, { preset: 'tiny', arch: 'llama' });
        assert.match(llamaRow.description!, /^RoPE · RMSNorm · SwiGLU · grouped-query attention · 4 layers · width 128$/);
        choose(llamaRow);
        return running;
      });
    } finally {
      sub.dispose();
    }
    assert.equal(result.reason, 'completed');
    llamaRun = dirname(dirname(result.checkpoint));
    const run = readRunJson(llamaRun);
    assert.equal(run.plan.model.llama?.kvHeads, 2);
    assert.equal(run.plan.totalSteps, 60);
    const config = JSON.parse(readFileSync(join(resolveCheckpoint(result.checkpoint), 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['LlamaForCausalLM']);
    // The row's estimate was the Llama model's: its parameter count is the one the run trained.
    assert.equal(starts.length, 1);
    const params = starts[0].params.toLocaleString();
    assert.ok(llamaRow!.detail?.includes(`${params} `), `${llamaRow!.detail} names ${params} parameters`);
    assert.ok(!gpt2Row!.detail?.includes(`${params} `), `GPT-2's row (${gpt2Row!.detail}) is another model's`);

    // It serves the file it was trained on, and completes its Korean.
    const serving = await api.ctx.serving.forDocument(await vscode.workspace.openTextDocument(llamaText));
    assert.ok(serving?.model.startsWith(llamaRun), `${serving?.model} serves ${llamaText.fsPath}`);
    const completion = await complete(llamaText);
    assert.ok(completion && /\p{Script=Hangul}/u.test(completion), `a Korean completion: ${JSON.stringify(completion)}`);

    // Attention: 4 query heads over 2 key/value heads, each head named with the one it reads.
    const shown = await attentionOf(llamaText, serving!.model.split('/').pop()!);
    assert.deepEqual(shown.kvHeads, [0, 0, 1, 1]);
    assert.equal(shown.attention.length, 4);
    assert.ok(shown.attention.every((heads) => heads.length === 4));
    // A line shorter than the context is shown whole: the header does not say it was cut.
    assert.equal(shown.strings.tokens, '{0} tokens');
    // The whole document is longer than the context (64): its last 64 tokens, and the header says so.
    const editor = await vscode.window.showTextDocument(llamaText);
    editor.selection = new vscode.Selection(0, 0, editor.document.lineCount, 0);
    await vscode.commands.executeCommand('corpusLab.showAttention');
    const cut = await until('the attention of the whole document', () => {
      const s = api.panels.attention.lastShown;
      return s?.source.endsWith('selection') && s.tokens.length === 64 ? s : undefined;
    });
    assert.equal(cut.strings.tokens, '{0} tokens (the last ≤ context of the text)');
  });

  it('GPT-2 block vs Llama block: the twin has GPT-2 blocks at the same shape, seed, data and steps, is an experiment arm, and the Compare panel shows the blocks; LayerNorm vs DyT is refused on Llama blocks', async () => {
    const node = { kind: 'run', path: llamaRun, run: { dir: llamaRun } };
    const shown: string[] = [];
    const info = vscode.window.showInformationMessage;
    (vscode.window as { showInformationMessage: unknown }).showInformationMessage = (m: string) => (
      shown.push(m),
      Promise.resolve(undefined)
    );
    try {
      assert.equal(await vscode.commands.executeCommand('corpusLab.compareNorms', node), undefined);
    } finally {
      (vscode.window as { showInformationMessage: unknown }).showInformationMessage = info;
    }
    assert.match(shown.join(), /LayerNorm vs DyT is an experiment on GPT-2 blocks/);

    const data = (await vscode.commands.executeCommand('corpusLab.compareArchs', node)) as CompareData | undefined;
    assert.ok(data, 'the Compare panel opened');
    const c = data.comparison;
    assert.equal(c.runs.length, 2);
    assert.deepEqual(c.settings, [
      { key: 'blocks', values: ['Llama', 'GPT-2'] },
      { key: 'norm', values: ['rmsnorm', 'layernorm'] },
      { key: 'bias', values: [false, true] },
    ]);
    const twin = readRunJson(c.runs[1].dir);
    const original = readRunJson(llamaRun);
    assert.equal(twin.plan.model.llama, undefined);
    assert.deepEqual(twin.experiment, { kind: 'arch', of: llamaRun });
    assert.equal(twin.plan.options.seed, original.plan.options.seed);
    assert.equal(twin.plan.totalSteps, original.plan.totalSteps);
    assert.equal(twin.tokenizer.sha256, original.tokenizer.sha256);
    for (const r of c.runs) assert.ok(r.best && r.best.bitsPerChar > 0, JSON.stringify(r));
    // The two runs start in the same minute on one text: their names say which blocks each has.
    assert.match(c.runs[0].name, /^speech-ko-llama \d\d-\d\d \d\d:\d\d · Llama$/);
    assert.match(c.runs[1].name, /^speech-ko-llama \d\d-\d\d \d\d:\d\d · GPT-2$/);

    // The Runs view tells them apart too, and offers each only the experiments it can run.
    const items = new Map((await api.runs.getChildren()).map((n) => [n.path, api.runs.getTreeItem(n)]));
    const llamaItem = items.get(llamaRun)!;
    const gpt2Item = items.get(c.runs[1].dir)!;
    assert.equal(llamaItem.label, 'speech-ko-llama · Llama');
    assert.equal(gpt2Item.label, 'speech-ko-llama · GPT-2');
    assert.match((llamaItem.tooltip as vscode.MarkdownString).value, /Llama · 4 layers · 4 heads · width 128 · context 64/);
    const menus = JSON.parse(readFileSync(join(api.ctx.extension.extensionPath, 'package.json'), 'utf8')).contributes.menus;
    const offered = (item: vscode.TreeItem) =>
      (menus['view/item/context'] as { command: string; when: string }[])
        .filter((m) => new RegExp(/viewItem =~ \/(.+?)\/ /.exec(m.when)?.[1] ?? '^$').test(item.contextValue!))
        .map((m) => m.command);
    assert.ok(!offered(llamaItem).includes('corpusLab.compareNorms'), `${llamaItem.contextValue}: ${offered(llamaItem)}`);
    assert.ok(offered(llamaItem).includes('corpusLab.compareArchs'), `${llamaItem.contextValue}: ${offered(llamaItem)}`);
    assert.ok(offered(gpt2Item).includes('corpusLab.compareNorms'), `${gpt2Item.contextValue}: ${offered(gpt2Item)}`);
    const server = await api.ctx.serving.forDocument(await vscode.workspace.openTextDocument(llamaText));
    assert.ok(server?.model.startsWith(llamaRun), `${server?.model}: the arm does not take the file`);
  });

  it("an opened Qwen2 folder (BF16, sharded): Next Token with the logit lens, Attention by kv group, and Surprisal with transformers' loss", async () => {
    const qwen2 = join(workspace, 'texts', 'hf-llama', 'qwen2');
    const summary = (await vscode.commands.executeCommand('corpusLab.openModelFolder', qwen2)) as { dir: string };
    assert.equal(summary.dir, qwen2);
    // The prompt transformers 5.18 scored when the fixture was written (reference.json: its ids and mean loss).
    const reference = JSON.parse(readFileSync(join(qwen2, 'reference.json'), 'utf8')) as { prompt: string; ids: number[]; loss: number };
    const text = vscode.Uri.file(join(workspace, 'texts', 'qwen2-note.txt'));
    await vscode.workspace.fs.writeFile(text, new TextEncoder().encode(reference.prompt));
    await vscode.commands.executeCommand('corpusLab.chooseModelForFile', text, qwen2);
    assert.equal((await api.ctx.serving.forDocument(await vscode.workspace.openTextDocument(text)))?.model, qwen2);
    const editor = await vscode.window.showTextDocument(text);
    const end = editor.document.positionAt(editor.document.getText().length);
    editor.selection = new vscode.Selection(end, end);
    await vscode.commands.executeCommand('corpusLab.showNextToken');
    const next = await until('Next Token for the Qwen2 folder', () => {
      const n = api.nextToken.lastShown;
      return n?.model === 'qwen2' && n.source.startsWith('qwen2-note.txt') ? n : undefined;
    });
    assert.deepEqual(
      next.tokens.map((t) => t.id),
      reference.ids,
    );
    assert.equal(next.lens?.length, 3, 'the embeddings and both layers');
    assert.equal(next.lens!.at(-1)![0].id, next.logits.indexOf(Math.max(...next.logits)));
    const attention = await attentionOf(text, 'qwen2');
    assert.deepEqual(attention.kvHeads, [0, 0, 1, 1]);
    assert.equal(attention.strings.tokens, '{0} tokens', 'a byte-level BPE line is shown whole');

    await vscode.window.showTextDocument(text);
    await vscode.commands.executeCommand('corpusLab.showSurprisal');
    const surprisal = await until('Surprisal for the Qwen2 folder', () => {
      const s = api.panels.surprisal.lastShown;
      return s?.model === 'qwen2' && s.source === 'qwen2-note.txt' ? s : undefined;
    });
    // Every token after the first is scored; their bits add up to transformers' mean loss over them.
    assert.equal(surprisal.tokens, reference.ids.length - 1);
    const bits = surprisal.bitsPerChar * surprisal.chars;
    const expected = (reference.loss * (reference.ids.length - 1)) / Math.LN2;
    assert.ok(Math.abs(bits - expected) < 1e-4 * expected, `${bits} bits, transformers ${expected}`);
  });

  it('Custom… from Llama Small: the asked steps, batch and context with Llama blocks (the context checked as Llama blocks check it)', async () => {
    const text = vscode.Uri.file(join(workspace, 'texts', 'speech-en-custom.txt'));
    copyFileSync(en.fsPath, text.fsPath);
    const window = vscode.window as { showQuickPick: unknown; showInputBox: unknown };
    const [quickPick, inputBox] = [vscode.window.showQuickPick, vscode.window.showInputBox];
    const picks = [
      (items: PresetRow[]) => items.find((i) => i.label === 'Llama Small'),
      (items: (vscode.QuickPickItem & { unit?: string })[]) => items.find((i) => i.unit === 'steps'),
      (items: (vscode.QuickPickItem & { tokenizer?: string })[]) => items.find((i) => i.tokenizer === 'char'),
    ];
    const answers = ['4', undefined, '2', '16'];
    const contextChecks: (string | undefined)[] = [];
    window.showQuickPick = async (items: never[]) => picks.shift()!(items);
    window.showInputBox = async (options: vscode.InputBoxOptions) => {
      const answer = answers.shift() ?? options.value;
      if (answers.length === 0) {
        for (const v of ['0', '16']) contextChecks.push((await options.validateInput!(v)) as string | undefined);
      }
      return answer;
    };
    let result: TrainResult;
    try {
      result = await withPresetPick(async (shown, choose) => {
        const running = vscode.commands.executeCommand('corpusLab.train', text) as Thenable<TrainResult>;
        const pick = await shown(false);
        choose(pick.items.find((i) => i.custom)!);
        return running;
      });
    } finally {
      window.showQuickPick = quickPick;
      window.showInputBox = inputBox;
    }
    assert.equal(result.reason, 'completed');
    assert.match(contextChecks[0] ?? '', /context must be a whole number/);
    assert.equal(contextChecks[1], undefined);
    const run = readRunJson(dirname(dirname(result.checkpoint)));
    const { model, options } = run.plan;
    assert.deepEqual([model.layers, model.heads, model.width, model.context, model.llama?.kvHeads], [6, 6, 192, 16, 3]);
    assert.deepEqual([run.plan.totalSteps, options.batch], [4, 2]);
  });
});
