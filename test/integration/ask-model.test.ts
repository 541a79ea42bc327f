import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { copyFileSync, cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { TrainResult } from '../../src/worker/train/trainer';
import type { RunsNode } from '../../src/extension/runs-tree';
import { until, workspace } from './fixtures';

interface Asked {
  answer: string;
  prompt: string;
  tokens: number;
  stoppedBy: string;
  uri: vscode.Uri;
}

// Issue 20's "ask it a question in a chat-style preview (the template applied)": Ask the Model… on a
// Qwen2-family model fine-tuned on the Korean Q&A with the ChatML template.
describe('Ask the Model… (issue 20)', () => {
  const question = '대한민국 헌법 제1조의 내용을 알려 주세요.';
  const qa = vscode.Uri.file(join(workspace, 'texts', 'sft', 'constitution-qa-ko.jsonl'));
  let api: CorpusLabApi;

  before(async () => {
    api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
  });

  it('is in the command palette and the Runs view’s model menu, titled in English and Korean', () => {
    const ext = vscode.extensions.getExtension('corpus-lab.corpus-lab')!;
    const contributes = ext.packageJSON.contributes as {
      commands: { command: string; title: string }[];
      menus: Record<string, { command: string; when?: string }[]>;
    };
    assert.ok(contributes.commands.some((c) => c.command === 'corpusLab.askModel'));
    assert.ok(!contributes.menus.commandPalette.some((m) => m.command === 'corpusLab.askModel' && m.when === 'false'));
    const item = contributes.menus['view/item/context'].find((m) => m.command === 'corpusLab.askModel');
    assert.ok(item?.when?.includes('view == corpusLab.runs'), JSON.stringify(item));
    const nls = (file: string) => JSON.parse(readFileSync(join(ext.extensionPath, file), 'utf8')) as Record<string, string>;
    assert.equal(nls('package.nls.json')['command.askModel'], 'Ask the Model…');
    assert.equal(nls('package.nls.ko.json')['command.askModel'], '모델에게 질문…');
  });

  it('a fine-tuned Qwen2 model answers beside, with the template applied and its markup gone', async () => {
    const base = join(workspace, 'models', 'qwen2-ask');
    cpSync(join(workspace, 'texts', 'hf-llama', 'qwen2'), base, { recursive: true });
    copyFileSync(join(workspace, 'texts', 'sft', 'chatml.jinja'), join(base, 'chat_template.jinja'));
    await api.ctx.setActiveModel(base);
    const tuned = (await vscode.commands.executeCommand('corpusLab.finetune', qa, { method: 'full', maxSteps: 4 })) as
      TrainResult | undefined;
    assert.equal(tuned?.reason, 'completed');
    const node = { kind: 'checkpoint', path: tuned!.checkpoint } as RunsNode;
    const asked = (await vscode.commands.executeCommand('corpusLab.askModel', node, { question, maxTokens: 24, temperature: 0 })) as Asked;
    assert.ok(asked, 'the model was not asked (see the log)');
    assert.ok(asked.prompt.endsWith(`<|im_start|>user\n${question}<|im_end|>\n<|im_start|>assistant\n`), asked.prompt);
    assert.ok(asked.tokens > 0);
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === asked.uri.toString())!;
    assert.ok(
      vscode.window.visibleTextEditors.some((e) => e.document === doc),
      'the answer is shown',
    );
    // Prose in a narrow column beside the question: its lines wrap (issue 20 walk: one line cut at the edge).
    assert.equal(doc.languageId, 'corpus-lab-answer');
    assert.equal(vscode.workspace.getConfiguration('editor', doc).get('wordWrap'), 'on');
    const text = await until('the streamed answer in the document', () =>
      doc.getText().endsWith(asked.answer) ? doc.getText() : undefined,
    );
    assert.ok(text.startsWith(`You: ${question}\n\n`), text);
    assert.ok(asked.answer.trim().length > 0, 'the answer is text');
    assert.doesNotMatch(text, /<\|im_(start|end)\|>|<\|endoftext\|>/);
  });

  it('a model without a chat template is refused with the reason before the question is typed, and nothing is opened', async () => {
    const plain = join(workspace, 'models', 'qwen2-no-template');
    cpSync(join(workspace, 'texts', 'hf-llama', 'qwen2'), plain, { recursive: true });
    const shown: string[] = [];
    const window = vscode.window as { showErrorMessage: (message: string, ...items: string[]) => Thenable<string | undefined> };
    const original = window.showErrorMessage;
    window.showErrorMessage = (message: string) => {
      shown.push(message);
      return Promise.resolve(undefined);
    };
    // Asked from the Runs view, as a user would: the refusal comes before the question is asked for.
    const input = vscode.window as { showInputBox: (options?: vscode.InputBoxOptions) => Thenable<string | undefined> };
    const originalInput = input.showInputBox;
    let askedForQuestion = 0;
    input.showInputBox = () => (askedForQuestion++, Promise.resolve(question));
    const documents = vscode.workspace.textDocuments.length;
    let result: unknown;
    try {
      const node = { kind: 'base', name: 'qwen2-no-template', path: plain, runs: [] } as RunsNode;
      result = await vscode.commands.executeCommand('corpusLab.askModel', node);
    } finally {
      window.showErrorMessage = original;
      input.showInputBox = originalInput;
    }
    assert.equal(result, undefined);
    assert.equal(askedForQuestion, 0, 'the question was asked for, then refused');
    assert.equal(shown.length, 1);
    assert.match(shown[0], /has no chat template .*: add the template the model was trained with/);
    assert.equal(vscode.workspace.textDocuments.length, documents);
  });
});
