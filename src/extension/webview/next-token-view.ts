import * as vscode from 'vscode';
import { currentTextEditor } from '../text-editor';
import { basename } from 'node:path';
import { Ctx, modelName } from '../ctx';
import { webviewHtml, webviewOptions } from './html';
import { NextTokenData, ToNextToken, parseFromNextToken } from './inspect-protocol';
import { TokenizerCache } from '../tokenizer-cache';
import { errorText } from '../error-text';
import { ViewPageLoader } from './view-page-loader';

// Text around the cursor sent to the model: enough for a full context even at several characters per token.
const BEFORE_CHARS = 2000;
const AFTER_CHARS = 32;

/** The Next Token view: the candidates of the model serving the active editor's file for the token at the cursor. */
export class NextTokenView implements vscode.WebviewViewProvider {
  static readonly id = 'corpusLab.nextToken';
  private view?: vscode.WebviewView;
  private timer?: NodeJS.Timeout;
  /** Only the newest request's answer is shown. */
  private latest = 0;
  private lastMessage?: ToNextToken;
  private readonly tokenizers = new TokenizerCache();
  /** What the view shows now (tests read it). */
  lastShown?: NextTokenData;

  constructor(private readonly ctx: Ctx) {
    ctx.extension.subscriptions.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      vscode.window.onDidChangeTextEditorSelection(() => this.schedule()),
      ctx.serving.onDidChange(() => this.schedule()),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.ctx.extension.extensionUri);
    const page = new ViewPageLoader(
      'next token',
      view,
      () => webviewHtml(view.webview, this.ctx.extension.extensionUri, 'next-token', vscode.l10n.t('Next Token'), vscode.env.language),
      (line) => this.ctx.log.appendLine(line),
    );
    view.webview.onDidReceiveMessage((raw) => {
      const m = parseFromNextToken(raw);
      if (!m) this.ctx.log.appendLine(`next token view: ignored a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
      else if (m.type === 'ready') {
        page.ready();
        if (this.lastMessage) this.post(this.lastMessage);
        void this.update();
      } else void this.insert(m.id);
    });
    view.onDidChangeVisibility(() => view.visible && void this.update());
  }

  schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.update(), 80);
  }

  async update(): Promise<void> {
    if (!this.view?.visible) return;
    const editor = currentTextEditor();
    const model = (await this.ctx.serving.forActiveEditor())?.model;
    if (!model)
      return this.post({ type: 'empty', message: vscode.l10n.t('No active model yet: train one, or pick one in the Runs view.') });
    if (!editor)
      return this.post({ type: 'empty', message: vscode.l10n.t('Put the cursor in a text file to see what the model expects next.') });
    const doc = editor.document;
    const offset = doc.offsetAt(editor.selection.active);
    const prompt = doc.getText(new vscode.Range(doc.positionAt(Math.max(0, offset - BEFORE_CHARS)), editor.selection.active));
    const following = doc.getText(new vscode.Range(editor.selection.active, doc.positionAt(offset + AFTER_CHARS)));
    const started = performance.now();
    const job = this.ctx.inference.request((id) => ({ kind: 'next', id, checkpoint: model, request: { prompt, following, lens: true } }));
    this.latest = job.id;
    try {
      const r = await job.result;
      if (this.latest !== job.id) return;
      const c = this.ctx.config;
      this.lastShown = {
        source: `${basename(doc.fileName)} · ${vscode.l10n.t('line {0}, column {1}', editor.selection.active.line + 1, editor.selection.active.character + 1)}`,
        model: modelName(model),
        tokens: r.tokens,
        logits: r.logits,
        vocab: r.vocab,
        pieces: r.pieces,
        actual: r.actual,
        lens: r.lens,
        start: { temperature: c.temperature, topK: c.topK, topP: c.topP },
        ms: performance.now() - started,
        strings: this.strings(),
      };
      this.post({ type: 'next', ...this.lastShown });
    } catch (e) {
      if (this.latest === job.id) this.post({ type: 'empty', message: errorText(e) });
    }
  }

  private async insert(id: number): Promise<void> {
    const editor = currentTextEditor();
    const model = (await this.ctx.serving.forActiveEditor())?.model;
    if (!editor || !model) return;
    const tokenizer = await this.tokenizers.forModel(model);
    if (id < 0 || id >= tokenizer.vocabSize || tokenizer.isByteFallback(id)) return;
    const text = tokenizer.decode([id]);
    await editor.edit((b) => b.insert(editor.selection.active, text));
  }

  private strings(): Record<string, string> {
    return {
      context: vscode.l10n.t('Context (the last tokens the model sees)'),
      entropy: vscode.l10n.t('entropy'),
      bits: vscode.l10n.t('bits'),
      temperature: vscode.l10n.t('Temperature'),
      topK: vscode.l10n.t('Top-k'),
      topP: vscode.l10n.t('Top-p'),
      kept: vscode.l10n.t('{0} tokens kept, holding {1} of the probability'),
      keptOne: vscode.l10n.t('1 token kept, holding {0} of the probability'),
      all: vscode.l10n.t('all'),
      rank: vscode.l10n.t('rank'),
      token: vscode.l10n.t('token'),
      prob: vscode.l10n.t('probability'),
      logit: vscode.l10n.t('logit'),
      sampled: vscode.l10n.t('when sampling'),
      actual: vscode.l10n.t('In the text, {0} follows: rank {1}, probability {2}'),
      piece: vscode.l10n.t('a byte piece of a character: it becomes text only with the next tokens'),
      insert: vscode.l10n.t('Click to insert at the cursor'),
      outside: vscode.l10n.t('outside top-k / top-p: never sampled'),
      legend: vscode.l10n.t(
        'Probabilities are softmax(logit / temperature) over the whole vocabulary. Tokens of one character are shown together, with all their ids.',
      ),
      ms: vscode.l10n.t('{0} ms'),
      lens: vscode.l10n.t('Logit lens: what each layer would predict'),
      lensLegend: vscode.l10n.t(
        "Each layer's output read through the final norm and the output head, as if the model ended there. The last row is the model's prediction (temperature 1).",
      ),
      embeddings: vscode.l10n.t('embeddings'),
      layer: vscode.l10n.t('layer {0}'),
    };
  }

  private post(m: ToNextToken): void {
    this.lastMessage = m;
    void this.view?.webview.postMessage(m);
  }
}
