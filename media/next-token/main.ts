import { FromNextToken, NextTokenData, parseToNextToken } from '../../src/extension/webview/inspect-protocol';
import { shapeDistribution } from '../../src/core/distribution';
import { groupTokens } from '../../src/core/token-groups';
import { visibleWhitespace as visible } from '../../src/core/visible-whitespace';

declare function acquireVsCodeApi(): { postMessage(m: FromNextToken): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();
/** Whether the logit lens is unfolded survives new data and the page being reloaded. */
let lensOpen = (vscode.getState() as { lensOpen?: boolean } | undefined)?.lensOpen ?? false;
const app = document.getElementById('app')!;
const SHOWN = 20;
const CONTEXT_GROUPS = 24;

const fmt = (template: string, ...args: (string | number)[]) => template.replace(/\{(\d)\}/g, (_, i: string) => String(args[Number(i)]));
const pct = (p: number) => `${(100 * p).toFixed(p >= 0.1 ? 1 : 2)}%`;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

let data: NextTokenData | undefined;
const settings = { temperature: 1, topK: 0, topP: 1 };

function slider(
  label: string,
  key: keyof typeof settings,
  min: number,
  max: number,
  step: number,
  show: (v: number) => string,
): HTMLElement {
  const row = el('label', 'slider');
  const input = el('input');
  Object.assign(input, { type: 'range', min: String(min), max: String(max), step: String(step), value: String(settings[key]) });
  input.id = `slider-${key}`;
  const value = el('span', 'value', show(settings[key]));
  input.addEventListener('input', () => {
    settings[key] = Number(input.value);
    value.textContent = show(settings[key]);
    renderCandidates();
  });
  row.append(el('span', 'name', label), input, value);
  return row;
}

function render(d: NextTokenData): void {
  data = d;
  const s = d.strings;
  const head = el('div', 'head', `${d.model} · ${d.source} · ${fmt(s.ms, d.ms.toFixed(0))}`);
  const context = el('div', 'context');
  context.id = 'context';
  context.title = s.context;
  for (const g of groupTokens(d.tokens).slice(-CONTEXT_GROUPS)) {
    const span = el('span', `group${g.ids.length > 1 ? ' multi' : ''}`, visible(g.text));
    span.title = `id ${g.ids.join(' + ')}`;
    const ids = el('sub', 'ids', g.ids.join('·'));
    span.append(ids);
    context.append(span);
  }
  const vocab = d.vocab.length;
  const sliders = el('div', 'sliders');
  sliders.append(
    slider(s.temperature, 'temperature', 0, 2, 0.05, (v) => v.toFixed(2)),
    slider(s.topK, 'topK', 0, Math.min(vocab, 100), 1, (v) => (v === 0 ? s.all : String(v))),
    slider(s.topP, 'topP', 0.05, 1, 0.01, (v) => v.toFixed(2)),
  );
  const summary = el('div', 'summary');
  summary.id = 'summary';
  const actual = el('div', 'actual');
  actual.id = 'actual';
  if (d.actual) actual.textContent = fmt(s.actual, JSON.stringify(visible(d.actual.text)), d.actual.rank, pct(d.actual.prob));
  const table = el('table', 'candidates');
  table.id = 'candidates';
  app.replaceChildren(head, el('div', 'label', s.context), context, sliders, summary, actual, table, el('div', 'legend', s.legend));
  if (d.lens) app.append(lens(d));
  renderCandidates();
}

/** Per layer, the five tokens its output would predict, bottom (embeddings) to top (the prediction). */
function lens(d: NextTokenData): HTMLElement {
  const s = d.strings;
  const details = el('details', 'lens');
  details.id = 'lens';
  details.open = lensOpen;
  details.addEventListener('toggle', () => {
    lensOpen = details.open;
    vscode.setState({ lensOpen });
  });
  details.append(el('summary', '', s.lens));
  const table = el('table');
  d.lens!.forEach((row, layer) => {
    const tr = el('tr', layer === d.lens!.length - 1 ? 'prediction' : '');
    tr.append(el('th', '', layer === 0 ? s.embeddings : fmt(s.layer, layer)));
    for (const c of row) {
      const cell = el('td', 'cand');
      cell.title = `id ${c.id}`;
      cell.append(el('span', 'tok', visible(c.text)), el('span', 'num', pct(c.prob)));
      tr.append(cell);
    }
    table.append(tr);
  });
  details.append(table, el('div', 'legend', s.lensLegend));
  return details;
}

function renderCandidates(): void {
  if (!data) return;
  const d = data;
  const s = d.strings;
  const shaped = shapeDistribution(d.logits, settings);
  const pieces = new Set(d.pieces);
  document.getElementById('summary')!.textContent =
    `${s.entropy} ${shaped.entropyBits.toFixed(2)} ${s.bits} · ${shaped.kept === 1 ? fmt(s.keptOne, pct(shaped.massKept)) : fmt(s.kept, shaped.kept, pct(shaped.massKept))}`;
  const table = document.getElementById('candidates')!;
  const header = el('tr');
  for (const h of [s.rank, s.token, 'id', s.prob, s.sampled, s.logit]) header.append(el('th', '', h));
  const rows = shaped.order.slice(0, SHOWN).map((id, i) => {
    const kept = i < shaped.kept;
    const piece = pieces.has(id);
    const tr = el('tr', `${kept ? 'kept' : 'cut'}${piece ? ' piece' : ''}${d.actual?.id === id ? ' actual' : ''}`);
    tr.dataset.id = String(id);
    tr.title = [piece ? s.piece : kept ? s.insert : '', kept ? '' : s.outside].filter(Boolean).join(' · ');
    const bar = el('td', 'prob');
    const fill = el('span', 'bar');
    fill.style.width = `${Math.max(1, 100 * shaped.probs[id])}%`;
    bar.append(fill, el('span', 'num', pct(shaped.probs[id])));
    tr.append(
      el('td', 'rank', String(i + 1)),
      el('td', 'tok', visible(d.vocab[id])),
      el('td', 'id', String(id)),
      bar,
      el('td', 'sampled', kept ? pct(shaped.probs[id] / shaped.massKept) : '—'),
      el('td', 'logit', d.logits[id].toFixed(2)),
    );
    if (!piece) tr.addEventListener('click', () => vscode.postMessage({ type: 'insert', id }));
    return tr;
  });
  table.replaceChildren(header, ...rows);
}

window.addEventListener('message', (e: MessageEvent) => {
  const m = parseToNextToken(e.data);
  if (!m) return;
  if (m.type === 'empty') {
    data = undefined;
    const p = el('p', 'empty', m.message);
    p.id = 'empty';
    app.replaceChildren(p);
    return;
  }
  // The sliders start from the completion settings once, then keep what the user set.
  if (!data) Object.assign(settings, m.start);
  render(m);
});
vscode.postMessage({ type: 'ready' });
