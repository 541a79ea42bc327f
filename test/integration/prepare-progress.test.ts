import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { TrainEvent } from '../../src/core/train-events';
import { en, ko, until, workspace } from './fixtures';

// Issue 22: a corpus of any size is prepared (read, encoded to token ids on disk) before training;
// the run's progress notification says how far with an ETA, and its Cancel stops the preparation.
describe('Preparing a corpus (issue 22)', () => {
  let api: CorpusLabApi;
  const big = vscode.Uri.file(join(workspace, 'texts', 'big-mixed.txt'));

  before(async () => {
    api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
    // Past the 64 MB that used to be refused: Korean and English mixed.
    const piece = readFileSync(ko.fsPath, 'utf8') + readFileSync(en.fsPath, 'utf8');
    writeFileSync(big.fsPath, piece.repeat(Math.ceil((66 << 20) / Buffer.byteLength(piece))));
  });

  after(() => rmSync(big.fsPath, { force: true }));

  it('a 66 MB text is not refused; its preparation shows in the progress notification with an ETA, and Cancel trains nothing', async () => {
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
});
