import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { TrainResult } from '../../src/worker/train/trainer';
import { parseRunJson } from '../../src/core/run-json';
import { defaultBpeVocabSize } from '../../src/core/tokenizer';
import { en, ko, until, workspace } from './fixtures';
import { PresetRow, withPresetPick } from './preset-pick';
import { syncFsSpy } from './sync-fs-spy';
import { cleanText } from '../../src/core/clean';

type Shown = { title?: string; reports: string[] };

// Issues 20 and 22: right-click a folder of documents or a .jsonl of texts → Train, as the CLI's
// `train FOLDER` does; the worker prepares it (with the run's progress notification) and says what is wrong.
describe('Training from the explorer on a folder or a .jsonl (issues 20, 22)', () => {
  let api: CorpusLabApi;
  const docs = vscode.Uri.file(join(workspace, 'train-docs'));
  const texts = vscode.Uri.file(join(workspace, 'texts', 'speeches.jsonl'));
  const empty = vscode.Uri.file(join(workspace, 'no-documents'));

  before(async () => {
    api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
    // Text no earlier run prepared, so this run reads it (prepared data is cached by its hash).
    const fresh = `${Date.now()}\n`;
    mkdirSync(docs.fsPath, { recursive: true });
    writeFileSync(join(docs.fsPath, 'en.txt'), fresh + readFileSync(en.fsPath, 'utf8'));
    writeFileSync(join(docs.fsPath, 'ko.md'), fresh + readFileSync(ko.fsPath, 'utf8'));
    const lines = [en, ko].flatMap((f) => readFileSync(f.fsPath, 'utf8').split(/\n\s*\n/)).filter((t) => t.trim());
    writeFileSync(texts.fsPath, [fresh, ...lines].map((text) => JSON.stringify({ text })).join('\n') + '\n');
    mkdirSync(empty.fsPath, { recursive: true });
    writeFileSync(join(empty.fsPath, 'notes.csv'), 'a,b\n');
  });

  after(() => ['large-docs', 'big-docs'].forEach((d) => rmSync(join(workspace, d), { recursive: true, force: true })));

  /** Runs Train on `target`, keeping the progress notifications and the messages shown. */
  async function train(target: vscode.Uri) {
    const win = vscode.window as unknown as Record<string, (...args: unknown[]) => unknown>;
    const original = { error: win.showErrorMessage, warn: win.showWarningMessage, progress: win.withProgress };
    const said: string[] = [];
    const shown: Shown[] = [];
    win.showErrorMessage = (message, ...rest) => (said.push(String(message)), original.error.call(vscode.window, message, ...rest));
    win.showWarningMessage = (message, ...rest) => (said.push(String(message)), original.warn.call(vscode.window, message, ...rest));
    win.withProgress = (options, task) => {
      const notification: Shown = { title: (options as vscode.ProgressOptions).title, reports: [] };
      shown.push(notification);
      return original.progress.call(
        vscode.window,
        options,
        (progress: vscode.Progress<{ message?: string }>, token: vscode.CancellationToken) =>
          (task as (p: vscode.Progress<{ message?: string }>, t: vscode.CancellationToken) => Thenable<unknown>)(
            { report: (v) => (v.message && notification.reports.push(v.message), progress.report(v)) },
            token,
          ),
      );
    };
    try {
      const result = (await vscode.commands.executeCommand('corpusLab.train', target, { preset: 'tiny', maxSteps: 3 })) as
        TrainResult | { refused: string } | undefined;
      return { result, said, shown };
    } finally {
      Object.assign(win, { showErrorMessage: original.error, showWarningMessage: original.warn, withProgress: original.progress });
    }
  }

  function runJsonOf(checkpoint: string) {
    for (let dir = checkpoint; dir !== dirname(dir); dir = dirname(dir)) {
      const file = join(dir, 'run.json');
      if (existsSync(file)) return { dir, run: parseRunJson(readFileSync(file, 'utf8'), file) };
    }
    throw new Error(`no run.json above ${checkpoint}`);
  }

  const runs = () => (existsSync(api.ctx.runsRoot()) ? readdirSync(api.ctx.runsRoot()).length : 0);

  it('the explorer offers Train on a folder ("… on This Folder") and a .jsonl, the editor on an open .jsonl; a folder never shows "… on This File"', async () => {
    const { menus, commands } = vscode.extensions.getExtension('corpus-lab.corpus-lab')!.packageJSON.contributes as {
      menus: Record<string, { command: string; when?: string }[]>;
      commands: { command: string; title: string }[];
    };
    const whens = (where: string, command: string) => menus[where].filter((m) => m.command === command).map((m) => m.when ?? '');
    for (const [file, folder, title] of [
      ['corpusLab.train', 'corpusLab.trainFolder', 'Train Model on This Folder'],
      ['corpusLab.finetune', 'corpusLab.finetuneFolder', 'Fine-tune Active Model on This Folder…'],
    ]) {
      assert.deepEqual(whens('explorer/context', folder), ['explorerResourceIsFolder'], folder);
      assert.ok(
        whens('explorer/context', file).every((w) => w.startsWith('!explorerResourceIsFolder && ')),
        `${file}'s "This File" title on a folder`,
      );
      assert.ok(whens('explorer/context', file).some((w) => w.includes('resourceExtname == .jsonl')));
      assert.deepEqual(whens('commandPalette', folder), ['false'], `${folder} is for the explorer`);
      assert.ok(
        commands.some((c) => c.command === folder && c.title === title),
        title,
      );
      assert.ok((await vscode.commands.getCommands(true)).includes(folder), `${folder} is registered`);
    }
    assert.ok(whens('editor/context', 'corpusLab.train').some((w) => w.includes('resourceExtname == .jsonl')));
  });

  for (const [what, target, name] of [
    ['a folder of two documents', docs, 'train-docs'],
    ['a .jsonl of texts', texts, 'speeches.jsonl'],
  ] as const) {
    it(`right-click ${what} → Train: it is prepared in the run's notification, trained, and the run's corpus is it`, async () => {
      const { result, said, shown } = await train(target);
      assert.ok(result && 'checkpoint' in result, `training failed: ${said.join('\n')}`);
      assert.equal(result.reason, 'completed');
      assert.equal(result.step, 3);
      assert.ok(existsSync(join(result.checkpoint, 'model.safetensors')), result.checkpoint);
      const { dir, run } = runJsonOf(result.checkpoint);
      assert.equal(run.corpus.path, target.fsPath);
      assert.ok(dir.includes(name.replace('.jsonl', '')), dir);
      const notification = shown.find((n) => n.title === `Training on ${name}`);
      assert.ok(notification, shown.map((n) => n.title).join('\n'));
      assert.ok(
        notification.reports.some((r) => /^(reading the corpus|preparing its token ids|checking its prepared token ids): \d+%/.test(r)),
        notification.reports.join('\n'),
      );
    });
  }

  it('with corpusLab.training.clean on, Train cleans the text with corpusLab.training.cleanRules as it is prepared, and run.json says so', async () => {
    const config = vscode.workspace.getConfiguration('corpusLab');
    const file = join(workspace, 'notes-to-clean.md');
    const text = `---\ntitle: ${Date.now()}\n---\n# 제목\n<!-- 주석\n-->\n${readFileSync(ko.fsPath, 'utf8')}`;
    writeFileSync(file, text);
    await config.update('training.clean', true, vscode.ConfigurationTarget.Global);
    await config.update('training.cleanRules', ['markup', 'front-matter'], vscode.ConfigurationTarget.Global);
    try {
      const { result, said } = await train(vscode.Uri.file(file));
      assert.ok(result && 'checkpoint' in result, `training failed: ${said.join('\n')}`);
      const { run } = runJsonOf(result.checkpoint);
      assert.deepEqual(run.corpus.clean, ['front-matter', 'markup']);
      const cleaned = cleanText(text, { markup: true, 'front-matter': true }).text;
      assert.equal(run.plan.trainTokens + run.plan.valTokens, [...cleaned].length, 'a char token per character of the cleaned text');
    } finally {
      await config.update('training.clean', undefined, vscode.ConfigurationTarget.Global);
      await config.update('training.cleanRules', undefined, vscode.ConfigurationTarget.Global);
      rmSync(file, { force: true });
    }
  });

  it("Custom… on a folder suggests the BPE vocabulary from its documents' size, as for a text of that size, without synchronous file access on the host", async () => {
    const big = join(workspace, 'big-docs');
    mkdirSync(big, { recursive: true });
    const piece = readFileSync(en.fsPath, 'utf8');
    for (const name of ['a.txt', 'b.md']) writeFileSync(join(big, name), piece.repeat(Math.ceil(600_000 / piece.length)));
    const bytes = ['a.txt', 'b.md'].reduce((n, f) => n + readFileSync(join(big, f)).length, 0);
    const window = vscode.window as { showQuickPick: unknown; showInputBox: unknown };
    const [quickPick, inputBox] = [vscode.window.showQuickPick, vscode.window.showInputBox];
    const picks = [
      (items: PresetRow[]) => items.find((i) => i.label === 'Tiny'),
      (items: (vscode.QuickPickItem & { unit?: string })[]) => items.find((i) => i.unit === 'steps'),
      (items: (vscode.QuickPickItem & { tokenizer?: string })[]) => items.find((i) => i.tokenizer === 'bpe'),
    ];
    let suggested: string | undefined;
    window.showQuickPick = async (items: never[]) => picks.shift()!(items);
    window.showInputBox = async (options: vscode.InputBoxOptions) => {
      if (!options.prompt?.startsWith('Vocabulary size')) return options.value;
      suggested = options.value;
      return undefined;
    };
    let title: string | undefined;
    let result: unknown;
    const spy = syncFsSpy();
    let syncCalls: string[];
    try {
      result = await withPresetPick(async (shown, choose) => {
        const running = vscode.commands.executeCommand('corpusLab.train', vscode.Uri.file(big));
        const pick = await shown(false);
        title = pick.title;
        choose(pick.items.find((i) => i.custom)!);
        return running;
      });
    } finally {
      syncCalls = spy.stop();
      window.showQuickPick = quickPick;
      window.showInputBox = inputBox;
    }
    assert.deepEqual(syncCalls, [], 'synchronous file access on the extension host');
    assert.equal(result, undefined, 'nothing trained: the vocabulary box was closed');
    assert.ok(title?.startsWith('Train a model on big-docs'), title);
    assert.equal(suggested, String(defaultBpeVocabSize(bytes)));
    assert.notEqual(suggested, String(defaultBpeVocabSize(4096)), 'the folder entry’s own size would suggest this');
  });

  it("a large folder's preparation shows in the run's notification, and its Cancel trains nothing", async () => {
    const large = join(workspace, 'large-docs');
    mkdirSync(large, { recursive: true });
    const piece = `${Date.now()}\n${readFileSync(ko.fsPath, 'utf8')}${readFileSync(en.fsPath, 'utf8')}`;
    for (const name of ['a.txt', 'b.txt']) writeFileSync(join(large, name), piece.repeat(Math.ceil((40 << 20) / Buffer.byteLength(piece))));
    const infos: string[] = [];
    const win = vscode.window as unknown as Record<string, (...args: unknown[]) => unknown>;
    const info = win.showInformationMessage;
    win.showInformationMessage = (message, ...rest) => (infos.push(String(message)), info.call(vscode.window, message, ...rest));
    const before = runs();
    let outcome: Awaited<ReturnType<typeof train>>;
    try {
      const running = train(vscode.Uri.file(large));
      await until(
        'a preparation report',
        () => (api.ctx.training && api.ctx.training.events.some((e) => e.type === 'prepare') ? true : undefined),
        120_000,
      );
      await vscode.commands.executeCommand('corpusLab.cancelTraining');
      outcome = await running;
    } finally {
      win.showInformationMessage = info;
    }
    const notification = outcome.shown.find((n) => n.title === 'Training on large-docs');
    assert.ok(
      notification?.reports.some((r) => /^(reading the corpus|preparing its token ids): \d+%/.test(r)),
      notification?.reports.join('\n'),
    );
    assert.ok(infos.includes('Preparing large-docs was cancelled; nothing was trained.'), infos.join('\n'));
    assert.equal(runs(), before, 'no run folder was made');
  });

  it('a folder with no documents is refused in one line naming it, and no run folder is made', async () => {
    const before = runs();
    const { result, said } = await train(empty);
    assert.equal(result, undefined);
    assert.deepEqual(said, [`${empty.fsPath} has no .txt or .md documents to train on`]);
    assert.equal(runs(), before, 'no run folder was made');
  });
});
