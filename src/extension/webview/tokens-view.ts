import * as vscode from 'vscode';
import { currentTextEditor } from '../text-editor';
import { basename } from 'node:path';
import { Ctx, modelName } from '../ctx';
import { webviewHtml, webviewOptions } from './html';
import { TokenPiece, ToTokens, parseFromTokens } from './protocol';
import { TokenizerCache } from '../tokenizer-cache';
import { ViewPageLoader } from './view-page-loader';
import { Tokenizer } from '../../core/tokenizer';

// Tokenizing runs on the host thread, so the text is capped to keep it to a few milliseconds.
const MAX_CHARS = 20_000;

/** The Tokens view: the active editor's text (or selection) as the tokens of the model serving it. */
export class TokensView implements vscode.WebviewViewProvider {
  static readonly id = 'corpusLab.tokens';
  private view?: vscode.WebviewView;
  /** The view's page (tests read how often it said 'ready'). */
  page?: ViewPageLoader;
  private timer?: NodeJS.Timeout;
  private readonly tokenizers = new TokenizerCache();
  /** The tokenizer Tokenize Document trained last; shown until the active model changes, and while there is none. */
  private documentTokenizer?: { file: string; label: string };
  private preferDocumentTokenizer = false;
  /** What the view shows now (tests compare it with the tokenizer's own encoding). */
  lastShown?: { text: string; ids: number[] };

  constructor(private readonly ctx: Ctx) {
    ctx.extension.subscriptions.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      vscode.window.onDidChangeTextEditorSelection(() => this.schedule()),
      vscode.workspace.onDidChangeTextDocument((e) => e.document === currentTextEditor()?.document && this.schedule()),
      ctx.onDidChangeActiveModel(() => {
        this.preferDocumentTokenizer = false;
        this.schedule();
      }),
      ctx.serving.onDidChange(() => this.schedule()),
    );
  }

  /** Shows the editor's tokens with a tokenizer Tokenize Document just trained. */
  showDocumentTokenizer(t: { file: string; label: string }): void {
    this.documentTokenizer = t;
    this.preferDocumentTokenizer = true;
    this.schedule();
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.ctx.extension.extensionUri);
    const page = new ViewPageLoader(
      'tokens',
      view,
      () => webviewHtml(view.webview, this.ctx.extension.extensionUri, 'tokens', 'Tokens', vscode.env.language),
      (line) => this.ctx.log.appendLine(line),
    );
    this.page = page;
    view.webview.onDidReceiveMessage((raw) => {
      if (parseFromTokens(raw)) {
        page.ready();
        void this.update();
      } else this.ctx.log.appendLine(`tokens view: ignored a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
    });
    view.onDidChangeVisibility(() => view.visible && void this.update());
  }

  schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.update(), 150);
  }

  private async tokenizer(): Promise<{ tokenizer: Tokenizer; label: string } | undefined> {
    const model = this.preferDocumentTokenizer && this.documentTokenizer ? undefined : (await this.ctx.serving.forActiveEditor())?.model;
    if (model) {
      try {
        const tokenizer = await this.tokenizers.forModel(model);
        return { tokenizer, label: `${tokenizer.kind} · ${vocabularyLabel(tokenizer)} · ${modelName(model)}` };
      } catch (e) {
        this.ctx.log.appendLine(`tokens view: ${(e as Error).message}`);
      }
    }
    if (this.documentTokenizer) {
      const tokenizer = await this.tokenizers.load(this.documentTokenizer.file);
      return {
        tokenizer,
        label: `${tokenizer.kind} · ${vocabularyLabel(tokenizer)} · ${vscode.l10n.t('Tokenize Document: {0}', this.documentTokenizer.label)}`,
      };
    }
    return undefined;
  }

  async update(): Promise<void> {
    if (!this.view?.visible) return;
    const tok = await this.tokenizer();
    const editor = currentTextEditor();
    if (!tok || !editor) this.lastShown = undefined;
    if (!tok) return this.post({ type: 'empty', message: vscode.l10n.t('No tokenizer yet: train a model or run Tokenize Document.') });
    if (!editor) return this.post({ type: 'empty', message: vscode.l10n.t('Open a text file to see its tokens.') });
    const selected = editor.selections.some((s) => !s.isEmpty);
    const full = selected ? editor.selections.map((s) => editor.document.getText(s)).join('') : editor.document.getText();
    const truncated = full.length > MAX_CHARS;
    const text = truncated ? full.slice(0, MAX_CHARS) : full;
    const ids = tok.tokenizer.encode(text);
    this.lastShown = { text, ids };
    const pieces: TokenPiece[] = ids.map((id) => ({
      id,
      text: tok.tokenizer.tokenText(id),
      bytes: Array.from(tok.tokenizer.tokenBytes(id)),
      fallback: tok.tokenizer.isByteFallback(id),
    }));
    this.post({
      type: 'tokens',
      source: `${basename(editor.document.fileName)}${selected ? ` (${vscode.l10n.t('selection')})` : ''}`,
      tokenizer: tok.label,
      pieces,
      chars: [...text].length,
      truncated,
      strings: {
        tokens: vscode.l10n.t('tokens'),
        chars: vscode.l10n.t('characters'),
        charsPerToken: vscode.l10n.t('characters per token'),
        truncated: vscode.l10n.t('first {0} characters', MAX_CHARS),
        fallback: vscode.l10n.t('one character in several byte tokens, or unknown'),
        id: vscode.l10n.t('id'),
        bytes: vscode.l10n.t('bytes'),
        legend: vscode.l10n.t(
          'Hover a token for its ids and bytes. Dashed: one character made of several byte tokens (all their ids), or an unknown character. ␣ is a space, ↵ a line break.',
        ),
      },
    });
  }

  private post(m: ToTokens): void {
    void this.view?.webview.postMessage(m);
  }
}

function vocabularyLabel(t: Tokenizer): string {
  return vscode.l10n.t('vocabulary {0}', t.vocabSize.toLocaleString());
}
