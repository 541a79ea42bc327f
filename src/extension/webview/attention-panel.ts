import * as vscode from 'vscode';
import { currentTextEditor } from '../text-editor';
import { basename } from 'node:path';
import { Ctx } from '../ctx';
import { webviewHtml, webviewOptions } from './html';
import { AttentionData, ToAttention, parseFromAttention } from './inspect-protocol';
import { errorText } from '../error-text';
import { ViewPageLoader } from './view-page-loader';

/** Whether the tokens shown spell all of `text` (after any start-of-text token): the text was not cut to the context. */
function spellsWhole(tokens: { bytes: number[] }[], text: string): boolean {
  return Buffer.from(tokens.flatMap((t) => t.bytes))
    .toString('utf8')
    .endsWith(text);
}

/** The Attention panel: every layer's and head's attention over the current line or selection. */
export class AttentionPanel {
  private static current?: AttentionPanel;
  /** What the panel shows now (tests read it). */
  static lastShown?: AttentionData;
  private ready = false;
  private queued?: ToAttention;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly ctx: Ctx,
  ) {
    panel.webview.options = webviewOptions(ctx.extension.extensionUri);
    const page = new ViewPageLoader(
      'attention',
      panel,
      () => webviewHtml(panel.webview, ctx.extension.extensionUri, 'attention', vscode.l10n.t('Attention'), vscode.env.language),
      (line) => ctx.log.appendLine(line),
    );
    panel.webview.onDidReceiveMessage((raw) => {
      if (!parseFromAttention(raw))
        return this.ctx.log.appendLine(`attention panel: ignored a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
      page.ready();
      this.ready = true;
      if (this.queued) void panel.webview.postMessage(this.queued);
    });
    panel.onDidDispose(() => AttentionPanel.current === this && (AttentionPanel.current = undefined));
  }

  /** Shows the attention of the active editor's selection, or its current line. */
  static async show(ctx: Ctx): Promise<void> {
    const editor = currentTextEditor();
    const model = (await ctx.serving.forActiveEditor())?.model;
    if (!AttentionPanel.current) {
      const panel = vscode.window.createWebviewPanel(
        'corpusLab.attention',
        vscode.l10n.t('Corpus Lab: Attention'),
        vscode.ViewColumn.Beside,
        { retainContextWhenHidden: true },
      );
      AttentionPanel.current = new AttentionPanel(panel, ctx);
    }
    const self = AttentionPanel.current;
    self.panel.reveal(undefined, true);
    if (!model)
      return self.post({ type: 'empty', message: vscode.l10n.t('No active model yet: train one, or pick one in the Runs view.') });
    if (!editor)
      return self.post({ type: 'empty', message: vscode.l10n.t('Select text (or put the cursor on a line) in an editor first.') });
    const sel = editor.selection;
    const text = sel.isEmpty ? editor.document.lineAt(sel.active.line).text : editor.document.getText(sel);
    if (text.trim() === '')
      return self.post({ type: 'empty', message: vscode.l10n.t('Select text (or put the cursor on a line) in an editor first.') });
    try {
      const r = await ctx.inference.request((id) => ({ kind: 'attention', id, checkpoint: model, prompt: text })).result;
      const where = sel.isEmpty ? vscode.l10n.t('line {0}', sel.active.line + 1) : vscode.l10n.t('selection');
      AttentionPanel.lastShown = {
        source: `${basename(editor.document.fileName)} · ${where}`,
        model: basename(model),
        tokens: r.tokens,
        attention: r.attention,
        ...(r.kvHeads ? { kvHeads: r.kvHeads } : {}),
        strings: {
          layer: vscode.l10n.t('layer'),
          head: vscode.l10n.t('head'),
          kv: vscode.l10n.t('kv {0}'),
          kvTitle: vscode.l10n.t('query head {0} reads key/value head {1}'),
          kvLegend: vscode.l10n.t('Grouped-query attention: {0} query heads share each key/value head; “kv” names the one a head reads.'),
          query: vscode.l10n.t('query (attending)'),
          key: vscode.l10n.t('key (attended to)'),
          // Only a text longer than the model's context is cut to its last tokens.
          tokens: spellsWhole(r.tokens, text) ? vscode.l10n.t('{0} tokens') : vscode.l10n.t('{0} tokens (the last ≤ context of the text)'),
          legend: vscode.l10n.t(
            'Each square: one head. Row = the token attending, column = the token attended to; darker = more weight. Rows sum to 1; nothing attends to later tokens. Click a square to enlarge it; hover a cell for its value.',
          ),
          back: vscode.l10n.t('All heads'),
        },
      };
      self.post({ type: 'attention', ...AttentionPanel.lastShown });
    } catch (e) {
      self.post({ type: 'empty', message: errorText(e) });
    }
  }

  private post(m: ToAttention): void {
    this.queued = m;
    if (this.ready) void this.panel.webview.postMessage(m);
  }
}
