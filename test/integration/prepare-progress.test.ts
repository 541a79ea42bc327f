import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { TrainEvent } from '../../src/core/train-events';
import { preparedCacheRoot } from '../../src/core/prepared/prepared-cache';
import { en, ko, until, workspace } from './fixtures';

// Issue 22: a corpus of any size is prepared (read, encoded to token ids on disk) before training;
// the run's progress notification says how far with an ETA, and its Cancel stops the preparation.
describe('Preparing a corpus (issue 22)', () => {
  let api: CorpusLabApi;
  const big = vscode.Uri.file(join(workspace, 'texts', 'big-mixed.txt'));
  const picked = vscode.Uri.file(join(workspace, 'texts', 'big-picked.txt'));

  before(async () => {
    api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
    // Past the 64 MB that used to be refused: Korean and English mixed.
    const piece = readFileSync(ko.fsPath, 'utf8') + readFileSync(en.fsPath, 'utf8');
    // Five times 66 MB: the char preparation runs at 100+ MB/s, and a phase shows its ETA after half a second.
    const part = piece.repeat(Math.ceil((66 << 20) / Buffer.byteLength(piece)));
    writeFileSync(big.fsPath, part);
    for (let i = 1; i < 5; i++) appendFileSync(big.fsPath, part);
    const other = readFileSync(en.fsPath, 'utf8') + readFileSync(ko.fsPath, 'utf8');
    writeFileSync(picked.fsPath, other.repeat(Math.ceil((160 << 20) / Buffer.byteLength(other))));
  });

  after(() => [big, picked].forEach((f) => rmSync(f.fsPath, { force: true })));

  it('a 330 MB text is not refused; its preparation shows in the progress notification with an ETA, and Cancel trains nothing', async () => {
    const win = vscode.window as unknown as Record<string, (...args: unknown[]) => unknown>;
    const original = { info: win.showInformationMessage, warn: win.showWarningMessage, progress: win.withProgress };
    const said: string[] = [];
    const reports: string[] = [];
    win.showInformationMessage = (message, ...rest) => (said.push(String(message)), original.info.call(vscode.window, message, ...rest));
    win.showWarningMessage = (message, ...rest) => (said.push(String(message)), original.warn.call(vscode.window, message, ...rest));
    win.withProgress = (options, task) =>
      original.progress.call(vscode.window, options, (progress: vscode.Progress<{ message?: string }>, token: vscode.CancellationToken) =>
        (task as (p: vscode.Progress<{ message?: string }>, t: vscode.CancellationToken) => Thenable<unknown>)(
          { report: (v) => (v.message && reports.push(v.message), progress.report(v)) },
          token,
        ),
      );
    const events: TrainEvent[] = [];
    const sub = api.ctx.onTrainEvent(({ event }) => events.push(event));
    const runs = () => (existsSync(api.ctx.runsRoot()) ? readdirSync(api.ctx.runsRoot()).length : 0);
    const runsBefore = runs();
    try {
      const running = vscode.commands.executeCommand('corpusLab.train', big, { preset: 'tiny', maxSteps: 5 });
      await until(
        'a preparation report with an ETA',
        () => reports.find((r) => /^(reading the corpus|preparing its token ids): \d+% · ETA /.test(r)),
        120_000,
      );
      await vscode.commands.executeCommand('corpusLab.cancelTraining');
      await running;
    } finally {
      Object.assign(win, { showInformationMessage: original.info, showWarningMessage: original.warn, withProgress: original.progress });
      sub.dispose();
    }
    assert.ok(!said.some((m) => /more than the .* Corpus Lab trains on/.test(m)), said.join('\n'));
    assert.ok(said.includes('Preparing big-mixed.txt was cancelled; nothing was trained.'), said.join('\n'));
    assert.ok(!events.some((e) => e.type === 'start'));
    assert.equal(runs(), runsBefore, 'no run folder was made');
  });

  it("the preset pick's estimate shows the text's preparation as a run does, and its Cancel closes the pick and stops preparing", async () => {
    const win = vscode.window as unknown as Record<string, (...args: unknown[]) => unknown>;
    const original = win.withProgress;
    const shown: { title?: string; reports: string[]; cancel: vscode.CancellationTokenSource }[] = [];
    win.withProgress = (options, task) =>
      original.call(vscode.window, options, (progress: vscode.Progress<{ message?: string }>) => {
        const notification = {
          title: (options as vscode.ProgressOptions).title,
          reports: [] as string[],
          cancel: new vscode.CancellationTokenSource(),
        };
        shown.push(notification);
        return (task as (p: vscode.Progress<{ message?: string }>, t: vscode.CancellationToken) => Thenable<unknown>)(
          { report: (v) => (v.message && notification.reports.push(v.message), progress.report(v)) },
          notification.cancel.token,
        );
      });
    const events: TrainEvent[] = [];
    const sub = api.ctx.onTrainEvent(({ event }) => events.push(event));
    let answer: unknown;
    let preparing: (typeof shown)[number];
    try {
      // No preset given: the pick opens and estimates each row, the first preparing the text.
      const running = vscode.commands.executeCommand('corpusLab.train', picked);
      preparing = await until(
        'a preparation report while the pick is open',
        () => shown.find((n) => n.reports.some((r) => /^(reading the corpus|preparing its token ids): \d+%/.test(r))),
        120_000,
      );
      preparing.cancel.cancel();
      answer = await running;
      await until('the estimate to stop', () => (api.ctx.trainer.pending === 0 ? true : undefined), 60_000);
    } finally {
      win.withProgress = original;
      sub.dispose();
    }
    assert.equal(preparing.title, 'Train a model on big-picked.txt');
    assert.equal(answer, undefined, 'the pick closed without a choice');
    assert.ok(!events.some((e) => e.type === 'start'), 'nothing was trained');
    const root = preparedCacheRoot();
    const kept = existsSync(root)
      ? readdirSync(root).filter((d) => {
          const meta = join(root, d, 'prepared.json');
          return existsSync(meta) && readFileSync(meta, 'utf8').includes('big-picked.txt');
        })
      : [];
    assert.deepEqual(kept, [], 'the cancelled preparation left no prepared data');
  });
});
