import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { Ctx, modelName } from '../ctx';
import { webviewHtml, webviewOptions } from './html';
import { ViewPageLoader } from './view-page-loader';
import { PanelStateFile } from './panel-state-file';
import { isObject } from '../../core/json';
import { isInside, pathExists, readRegularFileAsync } from '../../core/safe-fs';
import { CompareData, RunSample, ToCompare, parseFromCompare } from './compare-protocol';
import { RunToCompare, SettingKey, compareRuns } from '../../core/compare-runs';
import { parseRunJson } from '../../core/run-json';
import { readMetricsAsync } from '../../core/metrics';
import { readRun } from '../../core/runs';
import { bestCheckpoint, splitRunName } from '../runs-tree';
import { runTraits } from '../run-traits';
import { promptFrom } from '../commands/models';
import { LossChartPanel } from './loss-chart-panel';
import { withParticles } from '../l10n';
import { registerPanelSerializer } from './panel-revival';

const VIEW_TYPE = 'corpusLab.compare';
/** Samples: the same prompt, seed and sampling for every run. */
const SAMPLE_OPTIONS = { temperature: 0.8, topK: 0, topP: 0.95, maxTokens: 120, stop: [] as string[] };

function settingNames(): Record<SettingKey, string> {
  return {
    tokenizer: vscode.l10n.t('tokenizer'),
    vocabSize: vscode.l10n.t('vocabulary size'),
    corpus: vscode.l10n.t('corpus'),
    layers: vscode.l10n.t('layers'),
    heads: vscode.l10n.t('attention heads'),
    width: vscode.l10n.t('width (embedding size)'),
    context: vscode.l10n.t('context (positions)'),
    blocks: vscode.l10n.t('blocks'),
    norm: vscode.l10n.t('normalization'),
    dropout: vscode.l10n.t('dropout'),
    bias: vscode.l10n.t('biases'),
    window: vscode.l10n.t('training window (tokens)'),
    batch: vscode.l10n.t('batch size'),
    steps: vscode.l10n.t('steps'),
    lr: vscode.l10n.t('learning rate'),
    minLr: vscode.l10n.t('minimum learning rate'),
    warmupSteps: vscode.l10n.t('warm-up steps'),
    weightDecay: vscode.l10n.t('weight decay'),
    beta1: vscode.l10n.t('AdamW β1'),
    beta2: vscode.l10n.t('AdamW β2'),
    gradClip: vscode.l10n.t('gradient clipping'),
    evalEvery: vscode.l10n.t('evaluation every (steps)'),
    valFraction: vscode.l10n.t('validation share'),
    seed: vscode.l10n.t('seed'),
    base: vscode.l10n.t('base model'),
  };
}

function compareStrings(): Record<string, string> {
  return {
    title: vscode.l10n.t('Compare Runs'),
    chart: vscode.l10n.t('Validation bits per character against tokens seen'),
    tokensSeen: vscode.l10n.t('tokens seen'),
    bitsPerChar: vscode.l10n.t('bits/char'),
    noCurve: vscode.l10n.t('{0} has no validation in bits per character (a run from before they were recorded).'),
    settings: vscode.l10n.t('Settings that differ'),
    sameSettings: vscode.l10n.t('The runs have the same settings.'),
    setting: vscode.l10n.t('setting'),
    metrics: vscode.l10n.t('Results'),
    run: vscode.l10n.t('run'),
    best: vscode.l10n.t('best validation (bits/char)'),
    bestStep: vscode.l10n.t('at step'),
    gap: vscode.l10n.t('train–validation gap at the end'),
    gapHint: vscode.l10n.t(
      'Validation minus training loss at the last evaluation; a growing gap means the model memorises its training text.',
    ),
    tokensPerSecond: vscode.l10n.t('tokens/s'),
    vocabulary: vscode.l10n.t('tokenizer'),
    didNotLearn: vscode.l10n.t(
      '{0} did not learn: its best validation, {1} bits/char, is within {2}% of the unigram baseline ({3} bits/char), what counting characters alone gives. Its numbers say nothing about the setting it differs in.',
    ),
    didNotLearnShort: vscode.l10n.t('did not learn'),
    vocabularyDiffers: vscode.l10n.t(
      'These runs use different tokenizers or vocabularies: their losses per token do not compare, so everything here is in bits per character of the held-out text.',
    ),
    seeds: vscode.l10n.t('Seeds'),
    seedGroup: vscode.l10n.t('{0}: {1} ± {2} bits/char over seeds {3}'),
    sameSetting: vscode.l10n.t('same settings'),
    present: vscode.l10n.t('present'),
    absent: vscode.l10n.t('absent'),
    withinNoise: vscode.l10n.t(
      'Within noise: the means differ by {0} bits/char, no more than the seeds’ spread ({1}, the larger standard deviation): the difference may be chance.',
    ),
    beyondNoise: vscode.l10n.t(
      'Beyond noise: the means differ by {0} bits/char, more than the seeds’ spread ({1}, the larger standard deviation).',
    ),
    groupsDidNotLearn: vscode.l10n.t(
      'Not a finding: no run of either group learned (each best validation is within {2}% of its unigram baseline), so the {0} bits/char between their means says nothing about the settings. Train them longer (more steps or epochs) or with a higher learning rate, then compare again.',
    ),
    noiseRule: vscode.l10n.t(
      'Rule: a difference counts only when the means of runs that differ only by seed differ by more than the larger of their standard deviations.',
    ),
    noSeeds: vscode.l10n.t('Each setting has one seed: repeat with two more seeds to see whether the difference is larger than the noise.'),
    repeatSeeds: vscode.l10n.t('Repeat with Two More Seeds'),
    openChart: vscode.l10n.t('Open in Loss Chart'),
    samples: vscode.l10n.t('Samples (same prompt and seed)'),
    prompt: vscode.l10n.t('Prompt'),
    seed: vscode.l10n.t('Seed'),
    sample: vscode.l10n.t('Sample'),
    sampling: vscode.l10n.t('Sampling…'),
    samplingNote: vscode.l10n.t('temperature 0.8 · top-p 0.95 · 120 tokens, from each run’s best checkpoint'),
    noModel: vscode.l10n.t('no checkpoint'),
  };
}

/** Compare Runs: the runs' validation curves, what differs, their results, samples and the seed verdict. */
export class ComparePanel {
  private static current?: ComparePanel;
  /** What the panel was last sent (tests read it). */
  static lastShown?: CompareData;
  static lastSamples?: { prompt: string; seed: number; samples: RunSample[] };
  private ready = false;
  private data?: CompareData;
  private sampling = 0;
  private readonly page: ViewPageLoader;

  private constructor(
    private readonly ctx: Ctx,
    readonly panel: vscode.WebviewPanel,
    private dirs: string[],
  ) {
    panel.webview.options = webviewOptions(ctx.extension.extensionUri);
    this.page = new ViewPageLoader(
      'compare',
      panel,
      () => webviewHtml(panel.webview, ctx.extension.extensionUri, 'compare', vscode.l10n.t('Compare Runs'), vscode.env.language),
      (line) => ctx.log.appendLine(line),
    );
    panel.webview.onDidReceiveMessage((raw) => this.onMessage(raw));
    panel.onDidDispose(() => ComparePanel.current === this && (ComparePanel.current = undefined));
  }

  /** Opens (or reuses) the panel on these run folders; says so and returns undefined when a run cannot be read. */
  static async show(ctx: Ctx, dirs: string[]): Promise<CompareData | undefined> {
    const inputs: RunToCompare[] = [];
    for (const dir of dirs) {
      const path = join(dir, 'run.json');
      try {
        const run = parseRunJson(await readRegularFileAsync(path), path);
        inputs.push({ name: basename(dir), dir, run, metrics: await readMetricsAsync(dir) });
      } catch {
        vscode.window.showErrorMessage(
          withParticles(vscode.l10n.t('Cannot compare {0}: its run.json is missing or damaged.', basename(dir))),
        );
        return undefined;
      }
    }
    const comparison = compareRuns(namedAsInRunsView(inputs));
    const data: CompareData = {
      comparison,
      prompt: await promptFrom(dirs[0]),
      seed: 1,
      strings: compareStrings(),
      settingNames: settingNames(),
    };
    if (!ComparePanel.current) {
      const panel = vscode.window.createWebviewPanel(VIEW_TYPE, vscode.l10n.t('Corpus Lab: Compare Runs'), vscode.ViewColumn.Active, {
        retainContextWhenHidden: true,
      });
      ComparePanel.current = new ComparePanel(ctx, panel, dirs);
    }
    const self = ComparePanel.current;
    self.dirs = dirs;
    compareStateFile(ctx).remember({ dirs });
    self.data = data;
    self.panel.title = vscode.l10n.t('Compare: {0} runs', dirs.length);
    self.panel.reveal();
    ComparePanel.lastShown = data;
    ComparePanel.lastSamples = undefined;
    if (self.ready) self.post({ type: 'show', ...data });
    void self.sample(data.prompt, data.seed);
    return data;
  }

  /** After a window reload the panel comes back on the runs it compared (those still on disk, if two or more are). */
  static registerSerializer(ctx: Ctx): vscode.Disposable {
    return registerPanelSerializer(VIEW_TYPE, async (panel) => {
      const remembered = await compareStateFile(ctx).read();
      const listed = isObject(remembered) && Array.isArray(remembered.dirs) ? remembered.dirs : [];
      const dirs: string[] = [];
      for (const d of listed)
        if (typeof d === 'string' && isInside(d, ctx.runsRoot()) && (await pathExists(join(d, 'run.json')))) dirs.push(d);
      if (dirs.length < 2) {
        ctx.log.appendLine(`compare panel: not restored, ${dirs.length} of the runs it compared are still on disk`);
        return panel.dispose();
      }
      ComparePanel.current?.panel.dispose();
      ComparePanel.current = new ComparePanel(ctx, panel, dirs);
      await ComparePanel.show(ctx, dirs);
    });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const m = parseFromCompare(raw);
    if (!m) return this.ctx.log.appendLine(`compare panel: ignored a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
    if (m.type === 'ready') {
      this.page.ready();
      this.ready = true;
      if (this.data) this.post({ type: 'show', ...this.data });
      if (ComparePanel.lastSamples) this.post({ type: 'samples', ...ComparePanel.lastSamples, busy: this.sampling > 0 });
    } else if (m.type === 'sample') await this.sample(m.prompt, m.seed);
    else if (m.type === 'repeatSeeds') await vscode.commands.executeCommand('corpusLab.repeatWithMoreSeeds', { runDirs: this.dirs });
    else await LossChartPanel.showWith(this.ctx, this.dirs);
  }

  /** Each run's best checkpoint continues the same prompt with the same seed, one after the other (one model loaded at a time). */
  private async sample(prompt: string, seed: number): Promise<void> {
    const dirs = this.dirs;
    this.sampling++;
    const samples: RunSample[] = dirs.map((d) => ({ name: basename(d) }));
    const publish = (busy: boolean) => {
      if (dirs !== this.dirs) return;
      ComparePanel.lastSamples = busy ? undefined : { prompt, seed, samples };
      this.post({ type: 'samples', prompt, seed, samples: samples.map((s) => ({ ...s })), busy });
    };
    publish(true);
    try {
      for (let i = 0; i < dirs.length; i++) {
        const info = await readRun(dirs[i]);
        const checkpoint = info && bestCheckpoint(info)?.dir;
        if (!checkpoint) {
          samples[i].error = this.data?.strings.noModel ?? 'no checkpoint';
          continue;
        }
        samples[i].model = modelName(checkpoint);
        try {
          const r = await this.ctx.inference.request((id) => ({
            kind: 'generate',
            id,
            checkpoint,
            prompt,
            options: { ...SAMPLE_OPTIONS, seed },
          })).result;
          samples[i].text = r.text;
        } catch (e) {
          samples[i].error = (e as Error).message;
        }
        if (i < dirs.length - 1) publish(true);
      }
    } finally {
      this.sampling--;
      publish(false);
    }
  }

  private post(m: ToCompare): void {
    if (this.ready) void this.panel.webview.postMessage(m);
  }
}

function compareStateFile(ctx: Ctx): PanelStateFile {
  return PanelStateFile.at(join(dirname(ctx.runsRoot()), 'compare.json'));
}

/**
 * Runs named as the Runs view shows them, with their blocks ("speech-ko 12-07 00:22 · Llama"); by
 * their folders (to the second) when that would name two alike, as repeats with other seeds are.
 */
function namedAsInRunsView(inputs: RunToCompare[]): RunToCompare[] {
  const traits = (r: RunToCompare) => (r.run.finetune ? '' : ` · ${runTraits(r.run.plan.model)}`);
  const short = inputs.map((r) => {
    const { label, started } = splitRunName(r.name);
    return `${[label, started].filter(Boolean).join(' ')}${traits(r)}`;
  });
  const alike = new Set(short).size < short.length;
  return inputs.map((r, i) => ({ ...r, name: alike ? `${r.name}${traits(r)}` : short[i] }));
}
