import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { isObject } from '../../core/json';
import { Ctx } from '../ctx';
import { webviewHtml, webviewOptions } from './html';
import { ViewPageLoader } from './view-page-loader';
import { PanelStateFile } from './panel-state-file';
import { registerPanelSerializer } from './panel-revival';
import { ChartSeriesSet, DataPreview, FromChart, MAX_OVERLAYS, MetricRow, ToChart, parseFromChart } from './protocol';
import { dataPreview, trainingDataEvent } from './data-preview';
import { listRuns } from '../../core/runs';
import { metricBaselines, metricRows, readMetricsAsync } from '../../core/metrics';
import { unitStrings } from './loss-chart-units';
import { valLabel } from '../runs-tree';
import { toMetricRow } from '../../core/metric-row';
import { isInside, readRegularFileAsync } from '../../core/safe-fs';
import { parseRunJson } from '../../core/run-json';
import { sameVocabulary } from '../../core/vocabulary';
import { showError } from '../commands/util';
import { errorText } from '../error-text';

const VIEW_TYPE = 'corpusLab.lossChart';

function chartStrings(): Record<string, string> {
  return {
    title: vscode.l10n.t('Loss'),
    train: vscode.l10n.t('train loss'),
    val: vscode.l10n.t('validation loss'),
    baseVal: vscode.l10n.t("validation loss on the base model's corpus"),
    lr: vscode.l10n.t('learning rate'),
    throughput: vscode.l10n.t('tokens/s'),
    step: vscode.l10n.t('step'),
    epoch: vscode.l10n.t('epoch'),
    smoothing: vscode.l10n.t('Smoothing'),
    raw: vscode.l10n.t('raw'),
    logScale: vscode.l10n.t('Log scale'),
    compare: vscode.l10n.t('Compare with run…'),
    removeOverlay: vscode.l10n.t('Remove {0} from the chart'),
    vocabularyDiffers: vscode.l10n.t(
      '{0} has another tokenizer or vocabulary: its losses per token do not compare with this run’s. Switch the unit to bits/char to compare them.',
    ),
    table: vscode.l10n.t('Show data table'),
    chart: vscode.l10n.t('Show charts'),
    sample: vscode.l10n.t('Latest sample'),
    noData: vscode.l10n.t('No steps logged yet.'),
  };
}

/** The Loss chart: one panel, following the live run (or the run it was opened on); restores after reload. */
export class LossChartPanel {
  private static current?: LossChartPanel;
  private pending: MetricRow[] = [];
  /** An init is being read from disk: live rows wait in `pending` and join it. */
  private loading = 0;
  private flushTimer?: NodeJS.Timeout;
  private latestSample?: string;
  /** The first example of the fine-tuning job it came from, kept while the chart shows that job's run. */
  private preview?: { jobId: number; preview: DataPreview };
  private readonly disposables: vscode.Disposable[] = [];
  private readonly page: ViewPageLoader;

  static async show(ctx: Ctx, runDir?: string): Promise<void> {
    // While a run starts, the chart waits for its folder (the start event) rather than showing another run.
    const dir = runDir ?? ctx.training?.runDir ?? (ctx.training ? undefined : (await listRuns(ctx.runsRoot()))[0]?.dir);
    if (LossChartPanel.current) {
      LossChartPanel.current.panel.reveal(undefined, true);
      if (dir && dir !== LossChartPanel.current.runDir) LossChartPanel.current.switchTo(dir);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      VIEW_TYPE,
      vscode.l10n.t('Corpus Lab: Loss'),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { ...webviewOptions(ctx.extension.extensionUri), retainContextWhenHidden: false },
    );
    LossChartPanel.current = new LossChartPanel(ctx, panel, dir);
  }

  static registerSerializer(ctx: Ctx): vscode.Disposable {
    return registerPanelSerializer(VIEW_TYPE, async (panel, state) => {
      // The state comes from the webview and from our own file: only folders under the runs folder are believed.
      const folder = (from: unknown, key: string) => {
        const v = isObject(from) ? from[key] : undefined;
        return typeof v === 'string' && isInside(v, ctx.runsRoot()) ? v : undefined;
      };
      // The file written the moment the chart changed has the latest folders of the same run.
      const remembered = await chartStateFile(ctx).read();
      const runDir = folder(state, 'runDir') ?? folder(remembered, 'runDir');
      const overlayDirs = overlayFolders(runDir && folder(remembered, 'runDir') === runDir ? remembered : state, ctx.runsRoot());
      panel.webview.options = webviewOptions(ctx.extension.extensionUri);
      LossChartPanel.current?.panel.dispose();
      LossChartPanel.current = new LossChartPanel(ctx, panel, runDir, overlayDirs);
    });
  }

  /** For tests: what the chart was last sent. */
  static get openRunDir(): string | undefined {
    return LossChartPanel.current?.runDir;
  }

  private constructor(
    private readonly ctx: Ctx,
    readonly panel: vscode.WebviewPanel,
    private runDir: string | undefined,
    private overlayDirs: string[] = [],
  ) {
    this.page = new ViewPageLoader(
      'loss chart',
      panel,
      () => webviewHtml(panel.webview, ctx.extension.extensionUri, 'loss-chart', 'Loss', vscode.env.language),
      (line) => ctx.log.appendLine(line),
    );
    this.updateTitle();
    const data = trainingDataEvent(ctx.training?.events);
    if (ctx.training && data && (!ctx.training.runDir || ctx.training.runDir === runDir))
      this.preview = { jobId: ctx.training.jobId, preview: dataPreview(data) };
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw) => this.onMessage(raw)),
      ctx.onTrainEvent(({ jobId, event }) => {
        if (event.type === 'data') {
          this.preview = { jobId, preview: dataPreview(event) };
          this.post({ type: 'data', preview: this.preview.preview });
          return;
        }
        if (event.type === 'start') {
          if (!this.runDir || this.following) this.switchTo(event.run_dir);
          return;
        }
        if (!this.runDir || ctx.training?.runDir !== this.runDir) return;
        if (event.type === 'step' || event.type === 'eval') {
          const row = toMetricRow(event as unknown as Record<string, unknown>);
          if (row) this.queue(row);
          if (event.type === 'eval' && event.sample) {
            this.latestSample = event.sample;
            this.post({ type: 'sample', text: event.sample, step: event.step });
          }
        }
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  private get following(): boolean {
    return this.ctx.training !== undefined;
  }

  private switchTo(dir: string): void {
    this.runDir = dir;
    this.overlayDirs = this.overlayDirs.filter((d) => d !== dir);
    this.pending = [];
    this.latestSample = undefined;
    const training = this.ctx.training;
    if (!training || this.preview?.jobId !== training.jobId || training.runDir !== dir) this.preview = undefined;
    this.updateTitle();
    void this.sendInit();
  }

  private updateTitle(): void {
    this.panel.title = this.runDir ? vscode.l10n.t('Loss: {0}', basename(this.runDir)) : vscode.l10n.t('Corpus Lab: Loss');
  }

  private queue(row: MetricRow): void {
    this.pending.push(row);
    // Steps can come many times a second; the chart redraws at most four times a second.
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      if (this.loading) return;
      const rows = this.pending;
      this.pending = [];
      if (rows.length) this.post({ type: 'append', rows });
    }, 250);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const m: FromChart | undefined = parseFromChart(raw);
    if (!m) {
      this.ctx.log.appendLine(`loss chart: ignored a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    if (m.type === 'ready') {
      this.page.ready();
      await this.sendInit();
    } else if (m.type === 'removeOverlay') {
      this.overlayDirs = this.overlayDirs.filter((d) => d !== m.dir);
      this.remember();
      await this.sendOverlays();
    } else {
      if (this.overlayDirs.length >= MAX_OVERLAYS) {
        void vscode.window.showInformationMessage(
          vscode.l10n.t('The chart shows up to {0} other runs: remove one first (× beside its name).', MAX_OVERLAYS),
        );
        return;
      }
      const runs = (await listRuns(this.ctx.runsRoot())).filter((r) => r.dir !== this.runDir && !this.overlayDirs.includes(r.dir));
      const pick = await vscode.window.showQuickPick(
        runs.map((r) => ({ label: r.name, description: r.valLoss !== undefined ? valLabel(r.valLoss) : r.status, dir: r.dir })),
        { title: vscode.l10n.t('Compare with run'), placeHolder: runs.length ? undefined : vscode.l10n.t('No other runs yet') },
      );
      if (!pick || this.overlayDirs.includes(pick.dir) || this.overlayDirs.length >= MAX_OVERLAYS) return;
      this.overlayDirs = [...this.overlayDirs, pick.dir];
      this.remember();
      await this.sendOverlays();
    }
  }

  /** Adds runs to the chart (the Compare view's "Open in Loss Chart"); the first becomes the main run when none is shown. */
  static async showWith(ctx: Ctx, dirs: string[]): Promise<void> {
    await LossChartPanel.show(ctx, dirs[0]);
    const chart = LossChartPanel.current;
    if (!chart) return;
    chart.overlayDirs = dirs.filter((d) => d !== chart.runDir).slice(0, MAX_OVERLAYS);
    chart.remember();
    await chart.sendOverlays();
  }

  /** For tests: the overlays last sent to the chart. */
  static lastOverlays?: ChartSeriesSet[];

  /** For tests: what the chart does with a message from its webview. */
  static async receive(message: unknown): Promise<void> {
    await LossChartPanel.current?.onMessage(message);
  }

  private async sendOverlays(): Promise<void> {
    const overlays = await this.readOverlays();
    LossChartPanel.lastOverlays = overlays;
    this.post({ type: 'overlays', overlays });
  }

  /** The overlays' series, each marked when its vocabulary is not the main run's. */
  private async readOverlays(): Promise<ChartSeriesSet[]> {
    const main = this.runDir ? await runTokenizer(this.runDir) : undefined;
    return Promise.all(
      this.overlayDirs.map(async (dir) => {
        const set = await seriesSet(dir, await this.readMetrics(dir));
        return { ...set, vocabularyDiffers: main !== undefined && set.tokenizer !== undefined && !sameVocabulary(main, set.tokenizer) };
      }),
    );
  }

  /** A run's metrics; an unreadable metrics.jsonl (a pipe, a folder, too large) is said, and charted as empty. */
  private readMetrics(dir: string): Promise<Record<string, unknown>[]> {
    return readMetricsAsync(dir).catch((e: unknown) => {
      showError(this.ctx, errorText(e));
      return [];
    });
  }

  /** Writes the chart's folders where the serializer finds them after a reload. */
  private remember(): void {
    chartStateFile(this.ctx).remember({ runDir: this.runDir, overlayDirs: this.overlayDirs });
  }

  private async sendInit(): Promise<void> {
    this.remember();
    const runDir = this.runDir;
    this.loading++;
    let metrics, overlays;
    try {
      metrics = runDir ? await this.readMetrics(runDir) : [];
      overlays = await this.readOverlays();
    } finally {
      this.loading--;
    }
    // Another run started (or the panel closed) while the files were read.
    if (runDir !== this.runDir || LossChartPanel.current !== this) return;
    const rows = metricRows(metrics);
    const last = rows.length ? rows[rows.length - 1].step : -1;
    rows.push(...this.pending.filter((r) => r.step > last));
    this.pending = [];
    const run = runDir
      ? { name: basename(runDir), dir: runDir, rows, baselines: metricBaselines(metrics), tokenizer: await runTokenizer(runDir) }
      : { name: '', rows: [] };
    if (runDir !== this.runDir || LossChartPanel.current !== this) return;
    LossChartPanel.lastOverlays = overlays;
    this.post({
      type: 'init',
      run,
      overlays,
      sample: this.latestSample ?? lastSample(metrics),
      preview: this.preview?.preview,
      strings: { ...chartStrings(), ...unitStrings() },
    });
  }

  /** For tests: the first example last sent to the chart. */
  static lastPreview?: DataPreview;

  private post(m: ToChart): void {
    if ((m.type === 'data' || m.type === 'init') && m.preview) LossChartPanel.lastPreview = m.preview;
    void this.panel.webview.postMessage(m);
  }

  private dispose(): void {
    if (LossChartPanel.current === this) LossChartPanel.current = undefined;
    clearTimeout(this.flushTimer);
    for (const d of this.disposables) d.dispose();
  }
}

function chartStateFile(ctx: Ctx): PanelStateFile {
  return PanelStateFile.at(join(dirname(ctx.runsRoot()), 'loss-chart.json'));
}

async function seriesSet(dir: string, metrics: Record<string, unknown>[]): Promise<ChartSeriesSet> {
  return { name: basename(dir), dir, rows: metricRows(metrics), baselines: metricBaselines(metrics), tokenizer: await runTokenizer(dir) };
}

/** The tokenizer run.json records (undefined for an unreadable run). */
async function runTokenizer(dir: string): Promise<ChartSeriesSet['tokenizer']> {
  const path = join(dir, 'run.json');
  try {
    const t = parseRunJson(await readRegularFileAsync(path), path).tokenizer;
    return t && typeof t.kind === 'string' && typeof t.vocabSize === 'number'
      ? { kind: t.kind, vocabSize: t.vocabSize, sha256: t.sha256 }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The overlays a saved state names (`overlayDirs`, or the single `overlayDir` of before), only folders under the runs folder. */
function overlayFolders(from: unknown, root: string): string[] {
  if (!isObject(from)) return [];
  const listed = Array.isArray(from.overlayDirs) ? from.overlayDirs : [from.overlayDir];
  const dirs = listed.filter((d): d is string => typeof d === 'string' && isInside(d, root));
  return [...new Set(dirs)].slice(0, MAX_OVERLAYS);
}

function lastSample(metrics: Record<string, unknown>[]): string | undefined {
  const evals = metrics.filter((m) => m.type === 'eval' && typeof m.sample === 'string');
  return evals.length ? (evals[evals.length - 1].sample as string) : undefined;
}
