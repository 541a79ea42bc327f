import uPlot from 'uplot';
import {
  ChartSeriesSet,
  DataPreview,
  FromChart,
  MAX_OVERLAYS,
  MetricRow,
  ToChart,
  parseToChart,
} from '../../src/extension/webview/protocol';
import { visibleWhitespace } from '../../src/core/visible-whitespace';
import { align } from './align';
import { fittedXAxis, fittedYAxis } from './axis-fit';
import { LossUnit, baselineLines, baselineNote, unitFactor, unitLabel, unitPicker } from './units';

const WHOLE_INCREMENTS = Array.from({ length: 9 }, (_, e) => [1, 2, 5].map((m) => m * 10 ** e)).flat();

declare function acquireVsCodeApi(): { postMessage(m: FromChart): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();

interface ViewState {
  runDir?: string;
  overlayDirs: string[];
  smoothing: number;
  log: boolean;
  table: boolean;
  unit?: LossUnit;
}

const saved = (vscode.getState() as Partial<ViewState> | undefined) ?? {};
const view: ViewState = {
  smoothing: saved.smoothing ?? 0.6,
  log: saved.log ?? false,
  table: saved.table ?? false,
  runDir: saved.runDir,
  overlayDirs: Array.isArray(saved.overlayDirs) ? saved.overlayDirs : [],
  unit: saved.unit,
};
let strings: Record<string, string> = {};
let run: ChartSeriesSet = { name: '', rows: [] };
let overlays: ChartSeriesSet[] = [];
let sample: string | undefined;
let preview: DataPreview | undefined;
const charts: uPlot[] = [];

const app = document.getElementById('app')!;

function css(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** TensorBoard-style smoothing: an exponential moving average with debiasing. */
function smooth(values: (number | null)[], weight: number): (number | null)[] {
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null) return null;
    n++;
    last = last * weight + (1 - weight) * v;
    return weight === 0 ? v : last / (1 - Math.pow(weight, n));
  });
}

function series(rows: MetricRow[], key: keyof MetricRow): [number[], (number | null)[]] {
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  for (const r of rows) {
    const v = r[key];
    if (typeof v === 'number') {
      xs.push(r.step);
      ys.push(v);
    }
  }
  return [xs, ys];
}

function render(): void {
  for (const c of charts.splice(0)) c.destroy();
  app.replaceChildren();
  vscode.setState(view);

  const toolbar = el('div', 'toolbar');
  const title = el('h2', '', run.name ? `${strings.title ?? 'Loss'} · ${run.name}` : (strings.title ?? 'Loss'));
  const smoothLabel = el('label', '', `${strings.smoothing ?? 'Smoothing'} `);
  const slider = document.createElement('input');
  slider.type = 'range';
  slider.min = '0';
  slider.max = '0.99';
  slider.step = '0.01';
  slider.value = String(view.smoothing);
  slider.id = 'smoothing';
  slider.setAttribute('aria-label', strings.smoothing ?? 'Smoothing');
  slider.oninput = () => {
    view.smoothing = Number(slider.value);
    render();
    document.getElementById('smoothing')?.focus();
  };
  smoothLabel.append(slider, smoothingValue());
  const logBox = document.createElement('input');
  logBox.type = 'checkbox';
  logBox.id = 'log-scale';
  logBox.checked = view.log;
  logBox.onchange = () => {
    view.log = logBox.checked;
    render();
  };
  const logLabel = el('label', '');
  logLabel.append(logBox, ` ${strings.logScale ?? 'Log scale'}`);
  const compare = button(strings.compare, () => vscode.postMessage({ type: 'pickOverlay' }));
  compare.id = 'compare';
  compare.disabled = overlays.length >= MAX_OVERLAYS;
  const tableToggle = button(view.table ? strings.chart : strings.table, () => {
    view.table = !view.table;
    render();
  });
  tableToggle.id = 'table-toggle';
  toolbar.append(
    title,
    smoothLabel,
    logLabel,
    compare,
    tableToggle,
    unitPicker(shownUnit(), strings, (u) => {
      view.unit = u;
      render();
    }),
  );
  app.append(toolbar);
  if (preview) app.append(previewSection(preview));
  if (overlays.length) app.append(overlayList());

  if (run.rows.length === 0) {
    app.append(el('p', 'empty', strings.noData ?? 'No steps logged yet.'));
  } else if (view.table) {
    app.append(dataTable());
  } else {
    drawCharts();
    app.append(baselineNote(run, shownUnit(), strings));
  }
  if (sample) {
    const box = el('section', 'sample');
    box.append(el('h3', '', strings.sample ?? 'Latest sample'), el('pre', '', sample));
    app.append(box);
  }
}

/** The first training example: trained runs highlighted, masked runs dimmed, separators boxed, whitespace visible. */
function previewSection(p: DataPreview): HTMLElement {
  const box = el('section', 'data-preview');
  const text = el('pre', 'preview-text');
  for (const part of p.parts) {
    const kind = `${part.trained ? 'trained' : 'masked'}${part.separator ? ' separator' : ''}`;
    text.append(el('span', kind, visibleWhitespace(part.text, true)));
  }
  box.append(el('h3', '', p.title), el('p', 'preview-counts', p.summary), text, el('p', 'preview-legend', p.legend));
  return box;
}

function drawCharts(): void {
  const fg = css('--vscode-foreground', '#ccc');
  const grid = css('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
  const colors = palette();
  const width = Math.max(320, app.clientWidth - 16);
  const axis = (label?: string): uPlot.Axis => ({ stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, label });
  // Steps are whole numbers: ticks at 1, 2, 5 × 10ⁿ, never 2.5.
  const stepAxis = (): uPlot.Axis => ({ ...axis(strings.step), ...fittedXAxis, incrs: WHOLE_INCREMENTS });

  const sets: [number[], (number | null)[]][] = [];
  const styles: uPlot.Series[] = [];
  const unit = shownUnit();
  // Training loss thin (dashed for overlays), validation thicker with points; one colour per run.
  const curve = (label: string, stroke: string, kind: 'train' | 'val', dashed: boolean): uPlot.Series => ({
    label,
    stroke,
    width: kind === 'val' ? 2 : 1.5,
    dash: dashed ? [6, 4] : undefined,
    spanGaps: true,
    points: { show: kind === 'val' },
  });
  const [tx, ty] = series(run.rows, 'loss');
  sets.push([tx, smooth(inUnit(ty, run, unit), view.smoothing)]);
  styles.push(curve(strings.train ?? 'train loss', colors.main[0], 'train', false));
  const raw = rawSeries(tx, inUnit(ty, run, unit));
  const [vx, vy] = series(run.rows, 'val_loss');
  sets.push([vx, inUnit(vy, run, unit)]);
  styles.push(curve(strings.val ?? 'validation loss', colors.main[1], 'val', false));
  overlays.forEach((o, i) => {
    if (unitFactor(o, unit) === undefined) return;
    const [ox, oy] = series(o.rows, 'loss');
    sets.push([ox, smooth(inUnit(oy, o, unit), view.smoothing)]);
    styles.push(curve(`${o.name}: ${strings.train ?? 'train loss'}`, colors.overlays[i], 'train', true));
    const [ovx, ovy] = series(o.rows, 'val_loss');
    sets.push([ovx, inUnit(ovy, o, unit)]);
    styles.push(curve(`${o.name}: ${strings.val ?? 'validation loss'}`, colors.overlays[i], 'val', false));
  });
  if (unit === 'nats' && run.rows.some((r) => r.base_val_loss !== undefined)) {
    // The base corpus's loss in nats per token only: bits per character would need its own text's counts.
    sets.push(series(run.rows, 'base_val_loss'));
    styles.push(curve(strings.baseVal ?? "validation loss on the base model's corpus", colors.base, 'val', true));
  }
  const lines = run.baselines ? baselineLines(run.baselines, unit, strings) : [];
  const xs = sets.flatMap(([x]) => x);
  for (const line of lines) sets.push([xs, xs.map(() => line.value)]);
  const lossChart = new uPlot(
    {
      title: strings.title,
      width,
      height: 280,
      scales: { x: { time: false }, y: view.log ? { distr: 3 } : {} },
      axes: [stepAxis(), { ...axis(unitLabel(unit, strings)), ...fittedYAxis }],
      series: [
        { label: strings.step },
        ...styles,
        ...lines.map((line) => ({ label: line.label, stroke: grid, width: 1, dash: [2, 4], spanGaps: true, points: { show: false } })),
        raw.series(colors.main[0]),
      ],
    },
    align([...sets, raw.set]),
    app,
  );
  lossChart.root.id = 'loss-chart';
  charts.push(lossChart);
  for (const [key, label, color] of [
    ['lr', strings.lr, colors.base],
    ['tokens_per_s', strings.throughput, colors.main[0]],
  ] as const) {
    const c = new uPlot(
      {
        width,
        height: 180,
        scales: { x: { time: false } },
        axes: [stepAxis(), { ...axis(), ...fittedYAxis, ...(key === 'lr' ? learningRateAxis() : {}) }],
        series: [{ label: strings.step }, { label, stroke: color, width: 1.5 }],
        legend: { show: true },
      },
      align([series(run.rows, key)]),
      app,
    );
    if (key === 'lr') c.root.id = 'lr-chart';
    charts.push(c);
  }
}

/** The main run's train and validation colours, one colour per overlay, and one for the base corpus. */
function palette(): { main: [string, string]; overlays: string[]; base: string } {
  return {
    main: [css('--vscode-charts-blue', '#3794ff'), css('--vscode-charts-orange', '#d18616')],
    overlays: [css('--vscode-charts-purple', '#b180d7'), css('--vscode-charts-green', '#89d185'), css('--vscode-charts-red', '#f14c4c')],
    base: css('--vscode-charts-yellow', '#cca700'),
  };
}

/**
 * The runs drawn over this one: a colour swatch, the name and a remove button each, and, in nats
 * per token, a note for each run whose vocabulary differs (its per-token losses do not compare).
 */
function overlayList(): HTMLElement {
  const box = el('section', 'overlays');
  box.id = 'overlays';
  const colors = palette().overlays;
  const unit = shownUnit();
  overlays.forEach((o, i) => {
    const item = el('span', 'overlay');
    const swatch = el('span', 'swatch');
    swatch.style.background = colors[i];
    const remove = button('×', () => vscode.postMessage({ type: 'removeOverlay', dir: o.dir ?? '' }));
    remove.className = 'remove';
    remove.id = `remove-overlay-${i}`;
    const label = (strings.removeOverlay ?? 'Remove {0}').replace('{0}', o.name);
    remove.title = label;
    remove.setAttribute('aria-label', label);
    item.append(swatch, o.name, remove);
    box.append(item);
  });
  for (const o of overlays.filter((x) => x.vocabularyDiffers && unit === 'nats')) {
    const note = el('p', 'vocabulary-note', (strings.vocabularyDiffers ?? '{0}').replace('{0}', o.name));
    note.setAttribute('role', 'note');
    box.append(note);
  }
  return box;
}

/** The slider's value as text beside it (0 = raw, 0.99 = heavily smoothed). */
function smoothingValue(): HTMLElement {
  const out = el('output', '', view.smoothing.toFixed(2));
  out.id = 'smoothing-value';
  out.setAttribute('for', 'smoothing');
  return out;
}

/** The unsmoothed training loss, drawn faintly behind the smoothed curve (without a legend entry of its own). */
function rawSeries(xs: number[], ys: (number | null)[]): { set: [number[], (number | null)[]]; series: (color: string) => uPlot.Series } {
  return {
    set: [xs, ys],
    series: (color) => ({
      label: `${strings.train ?? 'train loss'} (${strings.raw ?? 'raw'})`,
      stroke: fade(color),
      width: 1,
      spanGaps: true,
      points: { show: false },
      show: view.smoothing > 0,
    }),
  };
}

function fade(color: string): string {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (!hex) return color;
  const n = parseInt(hex[1], 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, 0.3)`;
}

/**
 * Learning-rate ticks: values like 0.0001 to 0.001 need significant digits, not uPlot's default
 * fixed decimals (which printed only "0.001" and "0"). The labels are kept on the chart for tests.
 */
function learningRateAxis(): Partial<uPlot.Axis> {
  return {
    // Four evenly spaced ticks over the scale: uPlot's round increments left one or two on a short chart.
    splits: (_u, _axis, min, max) => (max > min ? [0, 1, 2, 3].map((i) => min + ((max - min) * i) / 3) : [min]),
    values: (u, splits) => {
      const labels = splits.map((v) => (v === 0 ? '0' : Number(v.toPrecision(2)).toExponential()));
      u.root.dataset.ticks = labels.join(' ');
      return labels;
    },
  };
}

/** The unit chosen, as far as the run allows: without baselines (an older run) only nats per token. */
function shownUnit(): LossUnit {
  const unit = view.unit ?? 'nats';
  return unitFactor(run, unit) === undefined ? 'nats' : unit;
}

function inUnit(values: (number | null)[], set: ChartSeriesSet, unit: LossUnit): (number | null)[] {
  const factor = unitFactor(set, unit) ?? 1;
  return values.map((v) => (v === null ? null : v * factor));
}

function dataTable(): HTMLElement {
  const table = document.createElement('table');
  table.id = 'data-table';
  const columns = tableColumns();
  const head = table.createTHead().insertRow();
  for (const c of columns) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = c.title;
    head.append(th);
  }
  const body = table.createTBody();
  const steps = [...new Set([...run.rows, ...overlays.flatMap((o) => o.rows)].map((r) => r.step))].sort((a, b) => a - b);
  const own = rowsByStep(run.rows);
  const others = overlays.map((o) => rowsByStep(o.rows));
  for (const step of steps) {
    const tr = body.insertRow();
    for (const c of columns)
      tr.insertCell().textContent = c.value(
        step,
        own.get(step),
        others.map((o) => o.get(step)),
      );
  }
  const wrap = el('div', 'table-wrap');
  wrap.append(table);
  return wrap;
}

type Column = { title: string; value: (step: number, own?: MetricRow, others?: (MetricRow | undefined)[]) => string };

/** Step, epoch, losses (4 decimals), learning rate (2 significant digits), tokens/s (whole), then each overlay's losses. */
function tableColumns(): Column[] {
  const loss = (v?: number) => (v === undefined ? '' : v.toFixed(4));
  const columns: Column[] = [
    { title: strings.step ?? 'step', value: (step) => String(step) },
    { title: strings.epoch ?? 'epoch', value: (_, r) => (r?.epoch === undefined ? '' : String(r.epoch)) },
    { title: strings.train ?? 'train loss', value: (_, r) => loss(r?.loss) },
    { title: strings.val ?? 'validation loss', value: (_, r) => loss(r?.val_loss) },
    { title: strings.lr ?? 'learning rate', value: (_, r) => (r?.lr === undefined ? '' : Number(r.lr.toPrecision(2)).toExponential()) },
    {
      title: strings.throughput ?? 'tokens/s',
      value: (_, r) => (r?.tokens_per_s === undefined ? '' : Math.round(r.tokens_per_s).toLocaleString()),
    },
  ];
  overlays.forEach(({ name }, i) =>
    columns.push(
      { title: `${name}: ${strings.train ?? 'train loss'}`, value: (_, __, o) => loss(o?.[i]?.loss) },
      { title: `${name}: ${strings.val ?? 'validation loss'}`, value: (_, __, o) => loss(o?.[i]?.val_loss) },
    ),
  );
  return columns;
}

function rowsByStep(rows: MetricRow[]): Map<number, MetricRow> {
  const byStep = new Map<number, MetricRow>();
  for (const r of rows) byStep.set(r.step, { ...byStep.get(r.step), ...r });
  return byStep;
}

function el(tag: string, className: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(text: string | undefined, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.textContent = text ?? '';
  b.onclick = onClick;
  return b;
}

function overlayDirsOf(sets: ChartSeriesSet[]): string[] {
  return sets.map((o) => o.dir).filter((d): d is string => d !== undefined);
}

window.addEventListener('message', (e: MessageEvent) => {
  const m: ToChart | undefined = parseToChart(e.data);
  if (!m) return; // not ours, or malformed: ignored
  if (m.type === 'init') {
    strings = m.strings;
    run = m.run;
    overlays = m.overlays;
    sample = m.sample;
    preview = m.preview;
    view.runDir = m.run.dir;
    view.overlayDirs = overlayDirsOf(m.overlays);
    render();
  } else if (m.type === 'append') {
    run.rows.push(...m.rows);
    render();
  } else if (m.type === 'data') {
    preview = m.preview;
    render();
  } else if (m.type === 'sample') {
    sample = m.text;
    render();
  } else {
    overlays = m.overlays;
    view.overlayDirs = overlayDirsOf(m.overlays);
    render();
  }
});
window.addEventListener('resize', () => render());
vscode.postMessage({ type: 'ready' });
