import uPlot from 'uplot';
import { CompareData, FromCompare, RunSample, ToCompare, parseToCompare } from '../../src/extension/webview/compare-protocol';
import { align } from '../loss-chart/align';
import { NOT_LEARNED_MARGIN, SeedGroup, SeedOutcome, SettingValue } from '../../src/core/run-comparison';
import { fittedXAxis, fittedYAxis } from '../loss-chart/axis-fit';

declare function acquireVsCodeApi(): { postMessage(m: FromCompare): void };
const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

let data: CompareData | undefined;
let samples: { prompt: string; seed: number; samples: RunSample[]; busy: boolean } | undefined;
let chart: uPlot | undefined;

const fmt = (template: string, ...args: (string | number)[]) => template.replace(/\{(\d)\}/g, (_, i: string) => String(args[Number(i)]));
const num = (v: number | undefined, digits: number) => (v === undefined ? '—' : v.toFixed(digits));

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function css(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** One colour per run (cycling, dashed after the first six). */
function colour(i: number): string {
  const names: [string, string][] = [
    ['--vscode-charts-blue', '#3794ff'],
    ['--vscode-charts-orange', '#d18616'],
    ['--vscode-charts-purple', '#b180d7'],
    ['--vscode-charts-green', '#89d185'],
    ['--vscode-charts-red', '#f14c4c'],
    ['--vscode-charts-yellow', '#cca700'],
  ];
  const [name, fallback] = names[i % names.length];
  return css(name, fallback);
}

function render(): void {
  chart?.destroy();
  chart = undefined;
  app.replaceChildren();
  if (!data) return;
  const s = data.strings;
  const c = data.comparison;
  const toolbar = el('div', 'toolbar');
  const repeat = el('button', '', s.repeatSeeds);
  repeat.id = 'repeat-seeds';
  repeat.onclick = () => vscode.postMessage({ type: 'repeatSeeds' });
  const open = el('button', 'secondary', s.openChart);
  open.id = 'open-chart';
  open.onclick = () => vscode.postMessage({ type: 'openChart' });
  toolbar.append(el('h2', '', s.title), repeat, open);
  app.append(toolbar);
  if (c.vocabulariesDiffer) {
    const note = el('p', 'note', s.vocabularyDiffers);
    note.id = 'vocabulary-note';
    note.setAttribute('role', 'note');
    app.append(note);
  }
  for (const r of c.runs.filter((x) => x.didNotLearn)) {
    const percent = Math.round(NOT_LEARNED_MARGIN * 100);
    const note = el('p', 'note', fmt(s.didNotLearn, r.name, num(r.best?.bitsPerChar, 3), percent, num(r.unigramBitsPerChar, 3)));
    note.classList.add('did-not-learn');
    note.setAttribute('role', 'note');
    app.append(note);
  }

  app.append(el('h3', '', s.chart));
  const sets: [number[], (number | null)[]][] = c.runs.map((r) => [r.curve.map((p) => p.tokens), r.curve.map((p) => p.bitsPerChar)]);
  const fg = css('--vscode-foreground', '#ccc');
  const grid = css('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
  const axis = (label: string): uPlot.Axis => ({ stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, label });
  const holder = el('div');
  holder.id = 'compare-chart';
  app.append(holder);
  chart = new uPlot(
    {
      width: Math.max(320, app.clientWidth - 16),
      height: 300,
      scales: { x: { time: false } },
      axes: [
        { ...axis(s.tokensSeen), ...fittedXAxis },
        { ...axis(s.bitsPerChar), ...fittedYAxis },
      ],
      series: [
        { label: s.tokensSeen },
        ...c.runs.map((r, i) => ({
          label: r.name,
          stroke: colour(i),
          width: 2,
          dash: i >= 6 ? [6, 4] : undefined,
          spanGaps: true,
          points: { show: true },
        })),
      ],
    },
    align(sets),
    holder,
  );
  for (const r of c.runs.filter((x) => x.curve.length === 0)) app.append(el('p', 'note', fmt(s.noCurve, r.name)));

  app.append(el('h3', '', s.settings));
  if (c.settings.length === 0) app.append(el('p', '', s.sameSettings));
  else {
    const table = el('table');
    table.id = 'settings-table';
    const head = table.createTHead().insertRow();
    head.append(el('th', '', s.setting), ...c.runs.map((r) => el('th', '', r.name)));
    const body = table.createTBody();
    for (const row of c.settings) {
      const tr = body.insertRow();
      const name = el('th', '', data.settingNames?.[row.key] ?? row.key);
      name.title = row.key;
      tr.append(name);
      for (const v of row.values) tr.insertCell().textContent = shownValue(v, s);
    }
    app.append(wrap(table));
  }

  app.append(el('h3', '', s.metrics));
  const metrics = el('table');
  metrics.id = 'metrics-table';
  const head = metrics.createTHead().insertRow();
  const gapHead = el('th', '', s.gap);
  gapHead.title = s.gapHint;
  head.append(
    el('th', '', s.run),
    el('th', '', s.best),
    el('th', '', s.bestStep),
    gapHead,
    el('th', '', s.tokensPerSecond),
    el('th', '', s.vocabulary),
  );
  const body = metrics.createTBody();
  c.runs.forEach((r, i) => {
    const tr = body.insertRow();
    const name = el('th');
    const swatch = el('span', 'swatch');
    swatch.style.background = colour(i);
    name.append(swatch, r.name);
    tr.append(name);
    tr.insertCell().textContent = r.didNotLearn ? `${num(r.best?.bitsPerChar, 3)} (${s.didNotLearnShort})` : num(r.best?.bitsPerChar, 3);
    tr.insertCell().textContent = r.best ? String(r.best.step) : '—';
    tr.insertCell().textContent = r.gap
      ? r.gap.bitsPerChar !== undefined
        ? num(r.gap.bitsPerChar, 3)
        : `${num(r.gap.nats, 3)} nats`
      : '—';
    tr.insertCell().textContent = r.tokensPerSecond === undefined ? '—' : Math.round(r.tokensPerSecond).toLocaleString();
    tr.insertCell().textContent = `${r.tokenizer.kind} · ${r.tokenizer.vocabSize}`;
  });
  app.append(wrap(metrics));

  app.append(seedSection(data));
  app.append(sampleSection(data));
}

/** A setting's value as the page shows it: a flag (biases) as present or absent in the display language. */
function shownValue(v: SettingValue, s: Record<string, string>): string {
  if (v === null) return '—';
  if (typeof v === 'boolean') return v ? s.present : s.absent;
  return String(v);
}

/** What sets a seed group apart, with the settings' names and values as the table shows them (블록 Llama · 편향 없음). */
function groupLabel(d: CompareData, g: SeedGroup): string {
  return d.comparison.settings
    .filter((row) => row.key !== 'seed')
    .map((row) => `${d.settingNames?.[row.key] ?? row.key} ${shownValue(row.values[g.members[0]], d.strings)}`)
    .join(' · ');
}

function wrap(table: HTMLElement): HTMLElement {
  const w = el('div', 'table-wrap');
  w.append(table);
  return w;
}

/** Each outcome's class on the page and its string (strings come from compare-panel.ts). */
const VERDICT_SHOWN: Record<SeedOutcome, { className: string; text: string }> = {
  withinNoise: { className: 'within', text: 'withinNoise' },
  beyondNoise: { className: 'beyond', text: 'beyondNoise' },
  didNotLearn: { className: 'not-learned', text: 'groupsDidNotLearn' },
};

/** Mean ± std per group of runs that differ only by seed, the verdict for each pair of groups, and the rule. */
function seedSection(d: CompareData): HTMLElement {
  const s = d.strings;
  const c = d.comparison;
  const box = el('section', 'seeds');
  box.id = 'seeds';
  box.append(el('h3', '', s.seeds));
  if (c.seedGroups.length === 0) {
    box.append(el('p', '', s.noSeeds));
    return box;
  }
  const list = el('ul');
  for (const g of c.seedGroups)
    list.append(el('li', '', fmt(s.seedGroup, groupLabel(d, g) || s.sameSetting, g.mean.toFixed(3), g.std.toFixed(3), g.seeds.join(', '))));
  box.append(list);
  for (const v of c.verdicts) {
    const { className, text } = VERDICT_SHOWN[v.outcome];
    const p = el('p', `verdict ${className}`);
    p.append(el('strong', '', `${groupLabel(d, c.seedGroups[v.a])} / ${groupLabel(d, c.seedGroups[v.b])}: `));
    p.append(fmt(s[text], v.difference.toFixed(3), v.spread.toFixed(3), Math.round(NOT_LEARNED_MARGIN * 100)));
    box.append(p);
  }
  box.append(el('p', 'rule', s.noiseRule));
  return box;
}

function sampleSection(d: CompareData): HTMLElement {
  const s = d.strings;
  const box = el('section', 'samples');
  box.id = 'samples';
  box.append(el('h3', '', s.samples));
  const form = el('form', 'sample-form');
  const prompt = el('input');
  prompt.id = 'sample-prompt';
  prompt.value = samples?.prompt ?? d.prompt;
  prompt.setAttribute('aria-label', s.prompt);
  const seed = el('input');
  seed.id = 'sample-seed';
  seed.type = 'number';
  seed.min = '0';
  seed.value = String(samples?.seed ?? d.seed);
  seed.setAttribute('aria-label', s.seed);
  const go = el('button', '', samples?.busy ? s.sampling : s.sample);
  go.type = 'submit';
  go.disabled = samples?.busy === true;
  form.onsubmit = (e) => {
    e.preventDefault();
    const n = Number(seed.value);
    if (!Number.isInteger(n) || n < 0) return seed.focus();
    vscode.postMessage({ type: 'sample', prompt: prompt.value, seed: n });
  };
  const promptLabel = el('label', '', `${s.prompt} `);
  promptLabel.append(prompt);
  const seedLabel = el('label', '', `${s.seed} `);
  seedLabel.append(seed);
  form.append(promptLabel, seedLabel, go);
  box.append(form, el('p', 'hint', s.samplingNote));
  const grid = el('div', 'sample-grid');
  grid.style.gridTemplateColumns = `repeat(${Math.min(4, d.comparison.runs.length)}, minmax(0, 1fr))`;
  d.comparison.runs.forEach((r, i) => {
    const cell = el('div', 'sample');
    const title = el('h4');
    const swatch = el('span', 'swatch');
    swatch.style.background = colour(i);
    title.append(swatch, r.name);
    const got = samples?.samples[i];
    const pre = el('pre');
    if (got?.text !== undefined) {
      pre.append(el('span', 'prompt', samples!.prompt), got.text);
    } else pre.textContent = got?.error ?? (samples?.busy ? s.sampling : '');
    cell.append(title, pre);
    grid.append(cell);
  });
  box.append(grid);
  return box;
}

window.addEventListener('message', (e: MessageEvent) => {
  const m: ToCompare | undefined = parseToCompare(e.data);
  if (!m) return;
  if (m.type === 'show') {
    const { type: _type, ...rest } = m;
    data = rest;
    samples = undefined;
  } else samples = { prompt: m.prompt, seed: m.seed, samples: m.samples, busy: m.busy };
  render();
});
window.addEventListener('resize', () => render());
vscode.postMessage({ type: 'ready' });
