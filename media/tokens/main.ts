import { FromTokens, ToTokens, parseToTokens } from '../../src/extension/webview/protocol';
import { groupTokens } from '../../src/core/token-groups';
import { visibleWhitespace } from '../../src/core/visible-whitespace';

declare function acquireVsCodeApi(): { postMessage(m: FromTokens): void };
const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

function hex(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
}

function render(m: Extract<ToTokens, { type: 'tokens' }>): void {
  const s = m.strings;
  const stats = document.createElement('div');
  stats.className = 'stats';
  stats.id = 'stats';
  const perToken = m.pieces.length ? (m.chars / m.pieces.length).toFixed(2) : '–';
  stats.textContent = `${m.pieces.length} ${s.tokens} · ${m.chars} ${s.chars} · ${perToken} ${s.charsPerToken} · ${m.tokenizer}${m.truncated ? ` · ${s.truncated}` : ''}`;
  const source = document.createElement('div');
  source.className = 'source';
  source.textContent = m.source;
  const body = document.createElement('div');
  body.className = 'tokens';
  body.id = 'tokens';
  body.setAttribute('role', 'list');
  // The byte tokens of one character show as that character with all their ids, as in Next Token.
  let first = 0;
  groupTokens(m.pieces).forEach((g, i) => {
    const pieces = m.pieces.slice(first, (first += g.ids.length));
    const fallback = pieces.length > 1 || pieces[0].fallback;
    const ids = g.ids.join(' + ');
    const span = document.createElement('span');
    span.className = `tok c${i % 6}${fallback ? ' fallback' : ''}`;
    span.setAttribute('role', 'listitem');
    span.dataset.id = g.ids.join(' ');
    span.title = `${s.id} ${ids} · ${s.bytes} ${hex(pieces.flatMap((p) => p.bytes))}${fallback ? ` · ${s.fallback}` : ''}`;
    span.setAttribute('aria-label', `${g.text} (${s.id} ${ids})`);
    span.textContent = visibleWhitespace(g.text, true);
    body.append(span);
  });
  const legend = document.createElement('div');
  legend.className = 'legend';
  legend.textContent = s.legend;
  app.replaceChildren(stats, source, body, legend);
}

window.addEventListener('message', (e: MessageEvent) => {
  const m = parseToTokens(e.data);
  if (!m) return;
  if (m.type === 'empty') {
    const p = document.createElement('p');
    p.className = 'empty';
    p.id = 'empty';
    p.textContent = m.message;
    app.replaceChildren(p);
  } else render(m);
});
vscode.postMessage({ type: 'ready' });
