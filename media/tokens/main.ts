import { FromTokens, ToTokens, TokenPiece, parseToTokens } from '../../src/extension/webview/protocol';

declare function acquireVsCodeApi(): { postMessage(m: FromTokens): void };
const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

function hex(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
}

/** Whitespace made visible, so a token that is only a space or a line break can be seen. */
function visible(text: string): string {
  return text.replace(/ /g, '·').replace(/\n/g, '↵\n').replace(/\t/g, '→');
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
  m.pieces.forEach((p: TokenPiece, i: number) => {
    const span = document.createElement('span');
    span.className = `tok c${i % 6}${p.fallback ? ' fallback' : ''}`;
    span.setAttribute('role', 'listitem');
    span.dataset.id = String(p.id);
    span.title = `${s.id} ${p.id} · ${s.bytes} ${hex(p.bytes)}${p.fallback ? ` · ${s.fallback}` : ''}`;
    span.setAttribute('aria-label', `${p.text} (${s.id} ${p.id})`);
    span.textContent = visible(p.text);
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
