import { AttentionData, FromAttention, ShownToken, parseToAttention } from '../../src/extension/webview/inspect-protocol';
import { groupTokens } from '../../src/core/token-groups';
import { visibleWhitespace as visible } from '../../src/core/visible-whitespace';

declare function acquireVsCodeApi(): { postMessage(m: FromAttention): void };
const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

const fmt = (template: string, ...args: (string | number)[]) => template.replace(/\{(\d)\}/g, (_, i: string) => String(args[Number(i)]));

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

/** A heatmap of one head, `cell` pixels per token; darker = more attention. */
function heatmap(rows: number[][], cell: number): HTMLCanvasElement {
  const n = rows.length;
  const canvas = el('canvas', 'heatmap');
  canvas.width = canvas.height = n * cell;
  const g = canvas.getContext('2d')!;
  const ink = getComputedStyle(document.body).getPropertyValue('--vscode-foreground').trim() || '#ccc';
  g.fillStyle = ink;
  rows.forEach((row, q) =>
    row.forEach((w, k) => {
      if (k > q) return;
      g.globalAlpha = Math.sqrt(w);
      g.fillRect(k * cell, q * cell, cell, cell);
    }),
  );
  return canvas;
}

/** Each layer's heads side by side, wrapped to the panel's width (8 heads do not fit half an editor). */
function grid(d: AttentionData): void {
  const s = d.strings;
  const n = d.tokens.length;
  const cell = Math.max(2, Math.floor(96 / n));
  const table = el('div', 'grid');
  table.id = 'grid';
  d.attention.forEach((heads, l) => {
    const layer = el('section', 'layer');
    layer.dataset.layer = String(l);
    const row = el('div', 'heads');
    heads.forEach((rows, h) => {
      const label = el('div', 'col-label', headName(d, h));
      if (d.kvHeads) label.title = fmt(s.kvTitle, h, d.kvHeads[h]);
      const c = heatmap(rows, cell);
      c.dataset.layer = String(l);
      c.dataset.head = String(h);
      c.title = `${s.layer} ${l} · ${headName(d, h)}`;
      c.addEventListener('click', () => enlarge(d, l, h));
      const figure = el('figure', 'head-cell');
      figure.append(label, c);
      row.append(figure);
    });
    layer.append(el('div', 'row-label', `${s.layer} ${l}`), row);
    table.append(layer);
  });
  const legend = el('div', 'legend', s.legend);
  if (d.kvHeads) legend.append(el('div', '', fmt(s.kvLegend, d.attention[0].length / (Math.max(...d.kvHeads) + 1))));
  app.replaceChildren(header(d), table, legend);
}

/** A head's name; under grouped-query attention with the key/value head it reads, as in "head 3 · kv 1". */
function headName(d: AttentionData, h: number): string {
  const name = `${d.strings.head} ${h}`;
  return d.kvHeads ? `${name} · ${fmt(d.strings.kv, d.kvHeads[h])}` : name;
}

function header(d: AttentionData): HTMLElement {
  const head = el('div', 'head', `${d.model} · ${d.source} · ${fmt(d.strings.tokens, d.tokens.length)}`);
  head.id = 'head';
  return head;
}

/**
 * Each token's label: its text, or for the byte tokens of one character (grouped as in Next Token
 * and Tokens) that character and which of its tokens this is, as in 대 1/3.
 */
function labels(tokens: ShownToken[]): string[] {
  return groupTokens(tokens).flatMap((g) =>
    g.ids.map((_, i) => (g.ids.length > 1 ? `${visible(g.text)} ${i + 1}/${g.ids.length}` : visible(g.text))),
  );
}

/**
 * A key's label one character a line (a byte token's place, as 1/3, kept on one), each upright and
 * centred in its column: in vertical writing a Qwen2 label "␣권리" was drawn over its neighbour's.
 */
function stacked(label: string): string {
  return (label.match(/\d+\/\d+|\S/gu) ?? []).join('\n');
}

/** One head, tokens on both axes, each cell's value on hover. */
function enlarge(d: AttentionData, l: number, h: number): void {
  const s = d.strings;
  const rows = d.attention[l][h];
  const label = labels(d.tokens);
  const back = el('button', 'back', `← ${s.back}`);
  back.addEventListener('click', () => grid(d));
  const table = el('table', 'big');
  table.id = 'enlarged';
  const top = el('tr');
  top.append(el('th', 'corner', `${s.query} ↓ · ${s.key} →`));
  d.tokens.forEach((t, k) => {
    const th = el('th', 'key', stacked(label[k]));
    th.title = `id ${t.id}`;
    top.append(th);
  });
  table.append(top);
  rows.forEach((row, q) => {
    const tr = el('tr');
    const th = el('th', 'query', label[q]);
    th.title = `id ${d.tokens[q].id}`;
    tr.append(th);
    row.forEach((w, k) => {
      const td = el('td', k > q ? 'masked' : 'cell');
      if (k <= q) {
        td.style.setProperty('--w', String(Math.sqrt(w)));
        td.title = `${label[q]} → ${label[k]}: ${w.toFixed(4)}`;
        td.dataset.value = w.toFixed(6);
      }
      tr.append(td);
    });
    table.append(tr);
  });
  // A long line's head is wider than the panel: it scrolls in its own box, with its token labels kept in view.
  const box = el('div', 'big-box');
  box.append(table);
  app.replaceChildren(header(d), back, el('div', 'title', `${s.layer} ${l} · ${headName(d, h)}`), box);
}

window.addEventListener('message', (e: MessageEvent) => {
  const m = parseToAttention(e.data);
  if (!m) return;
  if (m.type === 'empty') {
    const p = el('p', 'empty', m.message);
    p.id = 'empty';
    app.replaceChildren(p);
  } else grid(m);
});
vscode.postMessage({ type: 'ready' });
