import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { TrainResult } from '../../src/worker/train/trainer';
import type { TrainEvent } from '../../src/core/train-events';
import type { CompareData } from '../../src/extension/webview/compare-protocol';
import { readRunJson } from '../../src/core/run-json';
import { startTraining } from '../../src/extension/commands/train';
import { en, ko, until } from './fixtures';

// Issue 13 item 7 and issue 15 item 13: Compare Runs, the LayerNorm vs DyT and more-seeds
// experiments through the training queue, and the loss chart's several overlays.
let api: CorpusLabApi;

const runDirOf = (r: TrainResult) => dirname(dirname(r.checkpoint));

/** A small, quick run through the train command's path (the experiments repeat its shape and steps). */
async function quickRun(file: vscode.Uri, maxSteps: number): Promise<string> {
  const shape = { layers: 1, heads: 2, width: 32, context: 32, batch: 4, evalEvery: 3 };
  const result = await startTraining(api.ctx, file, { ...shape, corpusPath: file.fsPath, runsRoot: api.ctx.runsRoot(), maxSteps });
  assert.equal(result?.reason, 'completed');
  return runDirOf(result!);
}

describe('Compare runs and experiments (issue 13 item 7)', () => {
  let lnRun: string;
  let dytRun: string;
  let enRun: string;

  let activeBefore: string | undefined;

  before(async () => {
    api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
    activeBefore = api.ctx.activeModel;
    lnRun = await quickRun(ko, 12);
  });

  // The runs trained here made their best checkpoints active: the other tests find the model they left.
  after(async () => {
    await api.ctx.setActiveModel(activeBefore);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('LayerNorm vs DyT trains the twin through the queue (same seed, data and steps) and compares the two: only the norm differs', async () => {
    const starts: TrainEvent[] = [];
    const sub = api.ctx.onTrainEvent(({ event }) => event.type === 'start' && starts.push(event));
    let data: CompareData | undefined;
    try {
      data = (await vscode.commands.executeCommand('corpusLab.compareNorms', { kind: 'run', path: lnRun, run: { dir: lnRun } })) as
        CompareData | undefined;
    } finally {
      sub.dispose();
    }
    assert.ok(data, 'the Compare panel opened');
    assert.equal(starts.length, 1);
    const c = data.comparison;
    assert.equal(c.runs.length, 2);
    dytRun = c.runs[1].dir;
    assert.deepEqual(c.settings, [{ key: 'norm', values: ['layernorm', 'dyt'] }]);
    const twin = readRunJson(dytRun);
    const original = readRunJson(lnRun);
    assert.equal(twin.plan.model.norm, 'dyt');
    assert.equal(twin.plan.options.seed, original.plan.options.seed);
    assert.equal(twin.plan.totalSteps, original.plan.totalSteps);
    assert.equal(twin.corpus.sha256, original.corpus.sha256);
    assert.equal(twin.tokenizer.sha256, original.tokenizer.sha256);
    // Issue 18 item 2: the twin is an experiment arm; being newest, it takes neither the file nor the ★.
    assert.deepEqual(twin.experiment, { kind: 'norm', of: lnRun });
    assert.ok(!api.ctx.activeModel?.startsWith(dytRun), `the active model ${api.ctx.activeModel} is not the twin's`);
    const server = await api.ctx.serving.forDocument(await vscode.workspace.openTextDocument(ko));
    assert.ok(server && !server.model.startsWith(dytRun), `${server?.model} serves ${ko.fsPath}, not the twin`);
    assert.equal(c.vocabulariesDiffer, false);
    for (const r of c.runs) {
      assert.ok(r.best && r.best.bitsPerChar > 0, JSON.stringify(r));
      assert.ok(r.curve.length > 0 && r.curve.every((p) => p.tokens === p.step * r.tokensPerStep));
      assert.ok(r.gap && Number.isFinite(r.gap.nats) && r.tokensPerSecond! > 0);
    }
    assert.deepEqual(c.seedGroups, [], 'one seed each: no verdict yet');
    assert.deepEqual(api.panels.compare.lastShown?.comparison, c, 'the panel was sent what the command returned');
    // Samples: the same prompt and seed through each run's best checkpoint, in the inference worker.
    const samples = await until('samples', () => api.panels.compare.lastSamples);
    assert.equal(samples.samples.length, 2);
    assert.equal(samples.seed, 1);
    for (const s of samples.samples) assert.ok(typeof s.text === 'string' && s.text.length > 0 && s.model, JSON.stringify(s));
  });

  it('Repeat with Two More Seeds (from the Compare panel) trains four runs one after another, then gives mean ± std and a verdict', async () => {
    const starts: string[] = [];
    const sub = api.ctx.onTrainEvent(({ event }) => event.type === 'start' && starts.push(event.run_dir));
    let data: CompareData | undefined;
    try {
      data = (await vscode.commands.executeCommand('corpusLab.repeatWithMoreSeeds', { runDirs: [lnRun, dytRun] })) as
        CompareData | undefined;
    } finally {
      sub.dispose();
    }
    assert.ok(data);
    assert.equal(starts.length, 4, 'one run at a time, four runs');
    const c = data.comparison;
    assert.equal(c.runs.length, 6);
    for (const dir of starts) assert.equal(readRunJson(dir).experiment?.kind, 'seed');
    const seed = readRunJson(lnRun).plan.options.seed;
    assert.equal(c.seedGroups.length, 2);
    for (const g of c.seedGroups) {
      assert.deepEqual(
        [...g.seeds].sort((a, b) => a - b),
        [seed, seed + 1, seed + 2],
      );
      const values = g.members.map((i) => c.runs[i].best!.bitsPerChar);
      const mean = values.reduce((a, b) => a + b, 0) / 3;
      const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / 2);
      assert.ok(Math.abs(g.mean - mean) < 1e-12 && Math.abs(g.std - std) < 1e-12);
    }
    assert.deepEqual(
      c.seedGroups.map((g) => g.label),
      ['norm=layernorm', 'norm=dyt'],
    );
    const [v] = c.verdicts;
    const stuck = [...c.seedGroups[0].members, ...c.seedGroups[1].members].every((i) => c.runs[i].didNotLearn);
    assert.equal(v.outcome, stuck ? 'didNotLearn' : v.difference <= v.spread ? 'withinNoise' : 'beyondNoise');
    assert.ok(Math.abs(v.difference - Math.abs(c.seedGroups[0].mean - c.seedGroups[1].mean)) < 1e-12);
    assert.ok(data.strings.noiseRule.length > 0, 'the panel says the rule');
  });

  it('cancelling the first queued run stops the whole queue: the second never starts, the cancelled one is kept', async () => {
    const runsBefore = readdirSync(api.ctx.runsRoot()).length;
    // Cancelled at the first run's first step, as the Cancel command does it.
    const sub = api.ctx.onTrainEvent(({ event }) => {
      if (event.type !== 'step') return;
      sub.dispose();
      void vscode.commands.executeCommand('corpusLab.cancelTraining');
    });
    const running = vscode.commands.executeCommand('corpusLab.repeatWithMoreSeeds', { kind: 'run', path: lnRun, run: { dir: lnRun } });
    assert.equal(await running, undefined, 'no Compare panel after a cancelled queue');
    assert.equal(api.ctx.training, undefined);
    assert.equal(readdirSync(api.ctx.runsRoot()).length, runsBefore + 1, 'the second run never started');
  });

  it('Compare Runs refuses fewer than two runs and says how many it needs; the runs view has it in its title bar and on runs', async () => {
    const shown: string[] = [];
    const original = vscode.window.showWarningMessage;
    (vscode.window as { showWarningMessage: unknown }).showWarningMessage = (m: string) => {
      shown.push(m);
      return Promise.resolve(undefined);
    };
    try {
      assert.equal(await vscode.commands.executeCommand('corpusLab.compareRuns', undefined, { runDirs: [lnRun] }), undefined);
    } finally {
      (vscode.window as { showWarningMessage: unknown }).showWarningMessage = original;
    }
    assert.match(shown.join(), /Choose 2 to 4 runs to compare \(you chose 1\)/);
    const menus = vscode.extensions.getExtension('corpus-lab.corpus-lab')!.packageJSON.contributes.menus;
    assert.ok(menus['view/title'].some((m: { command: string }) => m.command === 'corpusLab.compareRuns'));
    for (const cmd of ['corpusLab.compareRuns', 'corpusLab.compareNorms', 'corpusLab.repeatWithMoreSeeds'])
      assert.ok(
        menus['view/item/context'].some((m: { command: string }) => m.command === cmd),
        cmd,
      );
  });

  it('the loss chart overlays several runs in their own colours, notes a different vocabulary, removes one, and remembers the list', async () => {
    enRun = await quickRun(en, 6);
    const chart = api.panels.lossChart;
    await chart.showWith(api.ctx, [lnRun, dytRun, enRun]);
    assert.equal(chart.openRunDir, lnRun);
    const overlays = await until('overlays', () => (chart.lastOverlays?.length === 2 ? chart.lastOverlays : undefined));
    assert.deepEqual(
      overlays.map((o) => [o.dir, o.vocabularyDiffers]),
      [
        [dytRun, false],
        [enRun, true],
      ],
    );
    assert.ok(overlays.every((o) => o.rows.length > 0 && o.tokenizer));
    const stateFile = join(dirname(api.ctx.runsRoot()), 'loss-chart.json');
    await until('the chart state on disk', () => {
      const s = JSON.parse(readFileSync(stateFile, 'utf8'));
      return s.overlayDirs?.length === 2 ? s : undefined;
    });
    await chart.receive({ type: 'removeOverlay', dir: dytRun });
    assert.deepEqual(
      chart.lastOverlays?.map((o) => o.dir),
      [enRun],
    );
    const saved = await until('the removal on disk', () => {
      const s = JSON.parse(readFileSync(stateFile, 'utf8'));
      return s.overlayDirs?.length === 1 ? s : undefined;
    });
    assert.deepEqual(saved, { runDir: lnRun, overlayDirs: [enRun] });
    // A malformed removal (no folder) is ignored, not acted on.
    await chart.receive({ type: 'removeOverlay' });
    assert.equal(chart.lastOverlays?.length, 1);
  });
});
