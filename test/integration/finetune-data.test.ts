import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { TrainResult } from '../../src/worker/train/trainer';
import type { TrainEvent } from '../../src/core/train-events';
import { estimateMethods } from '../../src/extension/commands/finetune';
import { formatBytes } from '../../src/core/format-bytes';
import { workspace, until } from './fixtures';

// Issue 20, the data they have, in the editor: right-click a .jsonl of Korean Q&A (or a folder of
// documents) → Fine-tune the active Qwen2-family model; the Loss chart shows the first example as the
// model sees it, trained tokens marked, before training starts.
describe('Fine-tuning on a .jsonl or a folder in the editor (issue 20)', () => {
  let api: CorpusLabApi;
  let base: string;
  const qa = vscode.Uri.file(join(workspace, 'texts', 'sft', 'constitution-qa-ko.jsonl'));
  const answers = readFileSync(qa.fsPath, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { messages: { role: string; content: string }[] }).messages[1].content);

  before(async () => {
    api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
    // The Qwen2 fixture with the ChatML template Qwen writes, as a folder of its own.
    base = join(workspace, 'models', 'qwen2-chatml');
    cpSync(join(workspace, 'texts', 'hf-llama', 'qwen2'), base, { recursive: true });
    copyFileSync(join(workspace, 'texts', 'sft', 'chatml.jinja'), join(base, 'chat_template.jinja'));
    const opened = (await vscode.commands.executeCommand('corpusLab.openModelFolder', base)) as { error?: string };
    assert.equal(opened.error, undefined);
    assert.equal(api.ctx.activeModel, base);
  });

  it('the explorer offers Fine-tune on a .jsonl and (its own entry) on a folder, the editor on an open .jsonl', () => {
    const menus = vscode.extensions.getExtension('corpus-lab.corpus-lab')!.packageJSON.contributes.menus as Record<
      string,
      { command: string; when?: string; group?: string }[]
    >;
    const whens = (where: string, command: string) => menus[where].filter((m) => m.command === command).map((m) => m.when ?? '');
    assert.deepEqual(whens('explorer/context', 'corpusLab.finetuneFolder'), ['explorerResourceIsFolder']);
    const onFiles = whens('explorer/context', 'corpusLab.finetune');
    assert.ok(onFiles.some((w) => w.includes('resourceExtname == .jsonl')));
    assert.ok(
      onFiles.every((w) => w.startsWith('!explorerResourceIsFolder && ')),
      'the file entry shows on no folder',
    );
    assert.ok(whens('editor/context', 'corpusLab.finetune').some((w) => w.includes('resourceExtname == .jsonl')));
  });

  it('the pick measures time per epoch and memory, LoRA and full, for a Qwen2 and a Llama folder, on a .jsonl’s examples and a folder’s documents', async () => {
    const docs = vscode.Uri.file(join(workspace, 'docs-ko'));
    mkdirSync(docs.fsPath, { recursive: true });
    writeFileSync(join(docs.fsPath, 'constitution.md'), readFileSync(join(workspace, 'texts', 'speech-ko.txt'), 'utf8'));
    const llama = join(workspace, 'texts', 'hf-llama', 'llama');
    for (const [model, data] of [
      [base, qa],
      [base, docs],
      [llama, docs],
    ] as const) {
      for (const item of await estimateMethods(api.ctx, data, model)) {
        const e = item.estimate;
        assert.ok(e && e.config.llama && e.secondsPerEpoch! > 0 && e.measuredBytes! > 0, `${model} on ${data.fsPath}: ${item.detail}`);
        // The memory shown is the timed step's measured peak, not the formula's figure.
        assert.ok(item.detail!.includes(`${formatBytes(e.measuredBytes!)} memory (measured)`), item.detail);
        assert.match(item.detail!, /per epoch · /);
      }
    }
  });

  it('right-click constitution-qa-ko.jsonl → Fine-tune: the first example with its answer marked reaches the Loss chart before training, then it trains and answers', async () => {
    const chart = api.panels.lossChart;
    chart.lastPreview = undefined;
    const seen: TrainEvent[] = [];
    const sub = api.ctx.onTrainEvent(({ event }) => seen.push(event));
    let result: TrainResult | undefined;
    try {
      result = (await vscode.commands.executeCommand('corpusLab.finetune', qa, { method: 'full', maxSteps: 4 })) as TrainResult | undefined;
    } finally {
      sub.dispose();
    }
    assert.ok(result, 'fine-tuning failed (see the log)');
    assert.equal(result.reason, 'completed');
    assert.equal(result.step, 4);
    const data = seen.findIndex((e) => e.type === 'data');
    assert.ok(data >= 0 && data < seen.findIndex((e) => e.type === 'start'), 'the data event comes before training starts');

    const preview = await until('the preview in the Loss chart', () => chart.lastPreview);
    const trained = preview.parts.filter((p) => p.trained).map((p) => p.text);
    const masked = preview.parts.filter((p) => !p.trained).map((p) => p.text);
    // ChatML: the system and user turns and the assistant header are read; the answer and its end of turn are trained.
    assert.equal(trained.length, 1, JSON.stringify(preview.parts));
    const end = '<|im_end|>\n';
    assert.ok(trained[0].endsWith(end) && answers.includes(trained[0].slice(0, -end.length)), JSON.stringify(trained[0]));
    assert.ok(masked[0].startsWith('<|im_start|>system\n') && masked[0].includes('<|im_start|>user\n'), masked[0]);
    assert.ok(masked[0].endsWith('<|im_start|>assistant\n'), masked[0]);
    assert.match(preview.summary, /^100 examples, 10 held out · [\d,]+ tokens trained · [\d,]+ masked · none cut to the context$/);

    const question = '대한민국 헌법 제1조의 내용을 알려 주세요.';
    const answer = await api.ctx.inference.request((id) => ({
      kind: 'generate',
      id,
      checkpoint: result.best?.checkpoint ?? result.checkpoint,
      prompt: `<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n${question}<|im_end|>\n<|im_start|>assistant\n`,
      options: { temperature: 0.8, topK: 0, topP: 0.95, maxTokens: 16, seed: 3, stop: [] },
    })).result;
    assert.ok(answer.text.length > 0, 'the fine-tuned model answers');
  });

  it('after a LoRA fine-tune on the Q&A .jsonl the closing message says to ask the model, with Ask the Model… as its button', async () => {
    await api.ctx.setActiveModel(base);
    // A copy no run has trained on yet, so the new model takes it (no other model keeps serving it).
    const questions = vscode.Uri.file(join(workspace, 'questions-ko.jsonl'));
    copyFileSync(qa.fsPath, questions.fsPath);
    const win = vscode.window as unknown as Record<string, (...args: unknown[]) => unknown>;
    const info = win.showInformationMessage;
    const said: unknown[][] = [];
    win.showInformationMessage = (...args: unknown[]) => (said.push(args), Promise.resolve(undefined));
    let result: TrainResult | undefined;
    try {
      result = (await vscode.commands.executeCommand('corpusLab.finetune', questions, { method: 'lora', maxSteps: 2 })) as
        TrainResult | undefined;
    } finally {
      win.showInformationMessage = info;
    }
    assert.equal(result?.reason, 'completed');
    const closing = said.find((args) => String(args[0]).startsWith('Training finished'));
    assert.ok(closing, JSON.stringify(said));
    assert.match(String(closing[0]), /The model is now active: ask it a question \(Ask the Model…\)\.$/);
    assert.deepEqual(closing.slice(1), ['Ask the Model…']);
  });

  it('right-click a folder of documents → Fine-tune: a training window reaches the Loss chart before training, every token trained, the end-of-text between documents boxed', async () => {
    await api.ctx.setActiveModel(base);
    const docs = join(workspace, 'docs-two');
    mkdirSync(docs, { recursive: true });
    const text = readFileSync(join(workspace, 'texts', 'speech-ko.txt'), 'utf8');
    writeFileSync(join(docs, 'a.txt'), text.slice(0, 3000));
    writeFileSync(join(docs, 'b.md'), text.slice(3000, 6000));
    const chart = api.panels.lossChart;
    chart.lastPreview = undefined;
    const result = (await vscode.commands.executeCommand('corpusLab.finetune', vscode.Uri.file(docs), { method: 'full', maxSteps: 1 })) as
      TrainResult | undefined;
    assert.equal(result?.reason, 'completed');
    const preview = await until('the preview in the Loss chart', () => chart.lastPreview);
    assert.match(preview.title, /^A training window \(from token [\d,]+\), as the model sees it$/);
    assert.match(preview.summary, /^2 documents · [\d,]+ tokens trained · [\d,]+ held out \(each document's last part\)$/);
    assert.deepEqual(
      preview.parts.filter((p) => p.separator),
      [{ text: '<|endoftext|>', trained: true, separator: true }],
    );
    assert.ok(
      preview.parts.slice(1).every((p) => p.trained),
      JSON.stringify(preview.parts),
    );
    assert.match(preview.legend, /^Every token is trained/);
  });

  it('a .jsonl where no token would be trained is refused with the reason, in one line, before any run starts', async () => {
    await api.ctx.setActiveModel(base);
    const empty = join(workspace, 'empty-answers.jsonl');
    const row = (q: string) =>
      JSON.stringify({
        messages: [
          { role: 'user', content: q },
          { role: 'assistant', content: ' ' },
        ],
      });
    writeFileSync(empty, ['제1조?', '제2조?', '제3조?'].map(row).join('\n') + '\n');
    const shown: string[] = [];
    const window = vscode.window as { showErrorMessage: (message: string, ...items: string[]) => Thenable<string | undefined> };
    const original = window.showErrorMessage;
    window.showErrorMessage = (message: string) => {
      shown.push(message);
      return Promise.resolve(undefined);
    };
    let result: unknown;
    try {
      result = await vscode.commands.executeCommand('corpusLab.finetune', vscode.Uri.file(empty), { method: 'full', maxSteps: 4 });
    } finally {
      window.showErrorMessage = original;
    }
    assert.equal(result, undefined);
    assert.deepEqual(shown, [`${empty}: no token would be trained: every answer (completion or assistant turn) is empty`]);
    assert.equal(api.ctx.training, undefined);
  });
});
