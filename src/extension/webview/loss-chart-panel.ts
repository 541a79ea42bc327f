import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { isObject } from '../../core/json';
import { Ctx } from '../ctx';
import { webviewHtml, webviewOptions } from './html';
import { ViewPageLoader } from './view-page-loader';
import { ChartSeriesSet, FromChart, MetricRow, ToChart, parseFromChart } from './protocol';
import { listRuns } from '../../core/runs';
import { metricBaselines, metricRows, readMetricsAsync } from '../../core/metrics';
import { unitStrings } from './loss-chart-units';
import { toMetricRow } from '../../core/metric-row';
import { isInside } from '../../core/safe-fs';

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
    clearCompare: vscode.l10n.t('Stop comparing'),
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
    return vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        // The state comes from the webview and from our own file: only folders under the runs folder are believed.
        const folder = (from: unknown, key: string) => {
          const v = isObject(from) ? from[key] : undefined;
          return typeof v === 'string' && isInside(v, ctx.runsRoot()) ? v : undefined;
        };
        // A browser-hosted workbench (code-server) may store a webview's state long after it changed;
        // the file written the moment the chart changed has the latest folders of the same run.
        const remembered = await readFile(chartStateFile(ctx), 'utf8').then(
          (t) => JSON.parse(t) as unknown,
          () => undefined,
        );
        const runDir = folder(state, 'runDir') ?? folder(remembered, 'runDir');
        const overlayDir =
          runDir && folder(remembered, 'runDir') === runDir ? folder(remembered, 'overlayDir') : folder(state, 'overlayDir');
        panel.webview.options = webviewOptions(ctx.extension.extensionUri);
        LossChartPanel.current?.panel.dispose();
        LossChartPanel.current = new LossChartPanel(ctx, panel, runDir, overlayDir);
      },
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
    private overlayDir?: string,
  ) {
    this.page = new ViewPageLoader(
      'loss chart',
      panel,
      () => webviewHtml(panel.webview, ctx.extension.extensionUri, 'loss-chart', 'Loss', vscode.env.language),
      (line) => ctx.log.appendLine(line),
    );
    this.updateTitle();
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw) => this.onMessage(raw)),
      ctx.onTrainEvent(({ event }) => {
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
    this.pending = [];
    this.latestSample = undefined;
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
    } else if (m.type === 'clearOverlay') {
      this.overlayDir = undefined;
      this.remember();
      this.post({ type: 'overlay' });
    } else {
      const runs = (await listRuns(this.ctx.runsRoot())).filter((r) => r.dir !== this.runDir);
      const pick = await vscode.window.showQuickPick(
        runs.map((r) => ({ label: r.name, description: r.valLoss !== undefined ? `val ${r.valLoss.toFixed(3)}` : r.status, dir: r.dir })),
        { title: vscode.l10n.t('Compare with run'), placeHolder: runs.length ? undefined : vscode.l10n.t('No other runs yet') },
      );
      if (!pick) return;
      this.overlayDir = pick.dir;
      this.remember();
      this.post({ type: 'overlay', overlay: await seriesSet(pick.dir) });
    }
  }

  /** Writes the chart's folders where the serializer finds them after a reload (never blocks; a failure only loses that). */
  private remember(): void {
    const file = chartStateFile(this.ctx);
    const temp = `${file}.${process.pid}.tmp`;
    void writeFile(temp, JSON.stringify({ runDir: this.runDir, overlayDir: this.overlayDir }))
      .then(() => rename(temp, file))
      .catch(() => undefined);
  }

  private async sendInit(): Promise<void> {
    this.remember();
    const runDir = this.runDir;
    this.loading++;
    let metrics, overlay;
    try {
      metrics = runDir ? await readMetricsAsync(runDir) : [];
      overlay = this.overlayDir ? await seriesSet(this.overlayDir) : undefined;
    } finally {
      this.loading--;
    }
    // Another run started (or the panel closed) while the files were read.
    if (runDir !== this.runDir || LossChartPanel.current !== this) return;
    const rows = metricRows(metrics);
    const last = rows.length ? rows[rows.length - 1].step : -1;
    rows.push(...this.pending.filter((r) => r.step > last));
    this.pending = [];
    const run = runDir ? { name: basename(runDir), dir: runDir, rows, baselines: metricBaselines(metrics) } : { name: '', rows: [] };
    this.post({
      type: 'init',
      run,
      overlay,
      sample: this.latestSample ?? lastSample(metrics),
      strings: { ...chartStrings(), ...unitStrings() },
    });
  }

  private post(m: ToChart): void {
    void this.panel.webview.postMessage(m);
  }

  private dispose(): void {
    if (LossChartPanel.current === this) LossChartPanel.current = undefined;
    clearTimeout(this.flushTimer);
    for (const d of this.disposables) d.dispose();
  }
}

function chartStateFile(ctx: Ctx): string {
  return join(dirname(ctx.runsRoot()), 'loss-chart.json');
}

async function seriesSet(dir: string): Promise<ChartSeriesSet> {
  const metrics = await readMetricsAsync(dir);
  return { name: basename(dir), dir, rows: metricRows(metrics), baselines: metricBaselines(metrics) };
}

function lastSample(metrics: Record<string, unknown>[]): string | undefined {
  const evals = metrics.filter((m) => m.type === 'eval' && typeof m.sample === 'string');
  return evals.length ? (evals[evals.length - 1].sample as string) : undefined;
}
