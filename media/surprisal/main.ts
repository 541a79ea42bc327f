import { FromSurprisal, SurprisalData, parseToSurprisal } from '../../src/extension/webview/inspect-protocol';

declare function acquireVsCodeApi(): { postMessage(m: FromSurprisal): void };
const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

// The same colours as the editor's (src/extension/webview/surprisal-panel.ts), opaque enough to read as bars.
const RANK_COLOURS = ['rgb(76, 175, 80)', 'rgb(255, 213, 0)', 'rgb(244, 67, 54)', 'rgb(156, 39, 176)'];
const BITS_COLOURS = ['rgb(76, 175, 80)', 'rgb(174, 213, 60)', 'rgb(255, 213, 0)', 'rgb(244, 67, 54)', 'rgb(156, 39, 176)'];

const fmt = (template: string, ...args: (string | number)[]) => template.replace(/\{(\d)\}/g, (_, i: string) => String(args[Number(i)]));

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

/** The legend is the histogram: one row per colour, its label, a bar and the share of tokens. */
function histogram(labels: string[], counts: number[], colours: string[], s: Record<string, string>): HTMLElement {
  const total = counts.reduce((a, b) => a + b, 0) || 1;
  const table = el('table', 'histogram');
  table.id = 'histogram';
  labels.forEach((label, i) => {
    const row = table.insertRow();
    const swatch = el('span', 'swatch');
    swatch.style.background = colours[i];
    const name = row.insertCell();
    name.append(swatch, ` ${label}`);
    const bar = el('div', 'bar');
    bar.style.width = `${(100 * counts[i]) / total}%`;
    bar.style.background = colours[i];
    row.insertCell().append(bar);
    row.insertCell().textContent = fmt(s.tokensUnit, counts[i].toLocaleString(), `${((100 * counts[i]) / total).toFixed(1)}%`);
  });
  return table;
}

function render(d: SurprisalData): void {
  const s = d.strings;
  app.replaceChildren();
  app.append(el('h2', '', s.title));
  const modes = el('div', 'modes');
  for (const [mode, label] of [
    ['rank', s.byRank],
    ['bits', s.byBits],
  ] as const) {
    const b = el('button', mode === d.mode ? 'on' : '', label);
    b.id = `mode-${mode}`;
    b.setAttribute('aria-pressed', String(mode === d.mode));
    b.onclick = () => vscode.postMessage({ type: 'mode', mode });
    modes.append(b);
  }
  app.append(modes);
  app.append(
    el('p', 'summary', fmt(s.summary, d.source, d.tokens.toLocaleString(), d.chars.toLocaleString(), d.bitsPerChar.toFixed(3), d.model)),
  );
  if (d.truncated) app.append(el('p', 'note', fmt(s.truncated, d.tokens.toLocaleString())));
  app.append(el('p', 'explain', d.mode === 'rank' ? s.explainRank : s.explainBits));
  app.append(
    d.mode === 'rank'
      ? histogram(s.rankBuckets.split('\n'), d.rankHistogram, RANK_COLOURS, s)
      : histogram(s.bitsBuckets.split('\n'), d.bitsHistogram, BITS_COLOURS, s),
  );
  const copied = el('section', 'copied');
  copied.id = 'copied';
  if (d.copied) {
    copied.append(el('h3', '', fmt(s.copied, d.copied.corpus, d.copied.chars)), el('pre', '', d.copied.text));
    const reveal = el('button', '', s.reveal);
    reveal.onclick = () => vscode.postMessage({ type: 'revealCopied' });
    copied.append(reveal);
  } else copied.append(el('p', 'note', s.copiedNone));
  app.append(copied);
}

window.addEventListener('message', (e: MessageEvent) => {
  const m = parseToSurprisal(e.data);
  if (!m) return;
  if (m.type === 'empty') app.replaceChildren(el('p', 'empty', m.message));
  else render(m);
});
vscode.postMessage({ type: 'ready' });
