import * as vscode from 'vscode';
import { currentTextEditor } from '../text-editor';
import { basename } from 'node:path';
import { Ctx } from '../ctx';
import { webviewHtml, webviewOptions } from './html';
import { SurprisalData, SurprisalMode, ToSurprisal, parseFromSurprisal } from './inspect-protocol';
import { bitsBucket, rankBucket, tokenBitsPerChar } from '../../core/surprisal';
import type { SurprisalResult } from '../../worker/protocol';
import { errorText } from '../error-text';
import { ViewPageLoader } from './view-page-loader';

// GLTR's colours: green top 10, yellow top 100, red top 1000, purple beyond; bits per character on a
// five-step scale from the same green to the same purple.
const RANK_COLOURS = ['rgba(76, 175, 80, 0.35)', 'rgba(255, 213, 0, 0.4)', 'rgba(244, 67, 54, 0.4)', 'rgba(156, 39, 176, 0.45)'];
const BITS_COLOURS = [
  'rgba(76, 175, 80, 0.35)',
  'rgba(174, 213, 60, 0.4)',
  'rgba(255, 213, 0, 0.4)',
  'rgba(244, 67, 54, 0.4)',
  'rgba(156, 39, 176, 0.45)',
];

/** Surprisal of a document: editor colours by rank or bits per character, and a panel with the legend and histogram. */
export class SurprisalPanel {
  private static current?: SurprisalPanel;
  /** What the panel shows now (tests read it). */
  static lastShown?: SurprisalData;
  private ready = false;
  private queued?: ToSurprisal;
  private mode: SurprisalMode = 'rank';
  private shown?: { editor: vscode.TextEditor; version: number; result: SurprisalResult; model: string };
  private readonly rankTypes = RANK_COLOURS.map((backgroundColor) => vscode.window.createTextEditorDecorationType({ backgroundColor }));
  private readonly bitsTypes = BITS_COLOURS.map((backgroundColor) => vscode.window.createTextEditorDecorationType({ backgroundColor }));
  private readonly copiedType = vscode.window.createTextEditorDecorationType({
    border: '1px dashed',
    borderColor: new vscode.ThemeColor('editorWarning.foreground'),
  });
  private readonly disposables: vscode.Disposable[] = [];
  private readonly page: ViewPageLoader;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly ctx: Ctx,
  ) {
    panel.webview.options = webviewOptions(ctx.extension.extensionUri);
    this.page = new ViewPageLoader(
      'surprisal',
      panel,
      () => webviewHtml(panel.webview, ctx.extension.extensionUri, 'surprisal', vscode.l10n.t('Surprisal'), vscode.env.language),
      (line) => ctx.log.appendLine(line),
    );
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw) => this.onMessage(raw)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.shown && e.document === this.shown.editor.document && e.contentChanges.length)
          this.clear(vscode.l10n.t('The document changed: run Colour Document by Surprisal again.'));
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  static async show(ctx: Ctx): Promise<void> {
    const editor = currentTextEditor();
    if (!SurprisalPanel.current) {
      const panel = vscode.window.createWebviewPanel(
        'corpusLab.surprisal',
        vscode.l10n.t('Corpus Lab: Surprisal'),
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        { retainContextWhenHidden: true },
      );
      SurprisalPanel.current = new SurprisalPanel(panel, ctx);
    }
    const self = SurprisalPanel.current;
    self.panel.reveal(undefined, true);
    const model = (await ctx.serving.forActiveEditor())?.model;
    if (!model) return self.clear(vscode.l10n.t('No active model yet: train one, or pick one in the Runs view.'));
    if (!editor || editor.document.getText().trim() === '') return self.clear(vscode.l10n.t('Open a document with text first.'));
    self.clear(vscode.l10n.t('Scoring {0}…', basename(editor.document.fileName)));
    const version = editor.document.version;
    try {
      const result = await ctx.inference.request((id) => ({ kind: 'surprisal', id, checkpoint: model, text: editor.document.getText() }))
        .result;
      if (editor.document.version !== version)
        return self.clear(vscode.l10n.t('The document changed: run Colour Document by Surprisal again.'));
      self.shown = { editor, version, result, model };
      self.render();
    } catch (e) {
      self.clear(errorText(e));
    }
  }

  static clearAll(): void {
    SurprisalPanel.current?.clear(vscode.l10n.t('Colours cleared.'));
  }

  private onMessage(raw: unknown): void {
    const m = parseFromSurprisal(raw);
    if (!m) return this.ctx.log.appendLine(`surprisal panel: ignored a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
    if (m.type === 'ready') {
      this.page.ready();
      this.ready = true;
      if (this.queued) void this.panel.webview.postMessage(this.queued);
    } else if (m.type === 'mode') {
      this.mode = m.mode;
      this.render();
    } else if (this.shown?.result.copied) {
      const { editor, result } = this.shown;
      const range = new vscode.Range(editor.document.positionAt(result.copied!.start), editor.document.positionAt(result.copied!.end));
      void vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, selection: range });
    }
  }

  private render(): void {
    if (!this.shown) return;
    const { editor, result, model } = this.shown;
    const doc = editor.document;
    const types = this.mode === 'rank' ? this.rankTypes : this.bitsTypes;
    const buckets: vscode.DecorationOptions[][] = types.map(() => []);
    for (const t of result.scored) {
      const bucket = this.mode === 'rank' ? rankBucket(t.rank) : bitsBucket(tokenBitsPerChar(t));
      buckets[bucket].push({
        range: new vscode.Range(doc.positionAt(t.start), doc.positionAt(t.end)),
        hoverMessage: vscode.l10n.t(
          'rank {0} among the model’s predictions · {1} bits ({2} per character)',
          t.rank,
          t.bits.toFixed(2),
          tokenBitsPerChar(t).toFixed(2),
        ),
      });
    }
    for (const ty of [...this.rankTypes, ...this.bitsTypes]) editor.setDecorations(ty, []);
    types.forEach((ty, i) => editor.setDecorations(ty, buckets[i]));
    const c = result.copied;
    editor.setDecorations(
      this.copiedType,
      c && c.end > c.start
        ? [
            {
              range: new vscode.Range(doc.positionAt(c.start), doc.positionAt(c.end)),
              hoverMessage: vscode.l10n.t('The longest stretch found verbatim in the training text'),
            },
          ]
        : [],
    );
    SurprisalPanel.lastShown = {
      source: basename(doc.fileName),
      model: basename(model),
      mode: this.mode,
      tokens: result.tokens,
      chars: result.chars,
      bitsPerChar: result.bitsPerChar,
      rankHistogram: result.rankHistogram,
      bitsHistogram: result.bitsHistogram,
      truncated: result.truncated,
      copied: c
        ? { text: doc.getText().slice(c.start, c.end), chars: [...doc.getText().slice(c.start, c.end)].length, corpus: basename(c.corpus) }
        : undefined,
      strings: surprisalStrings(),
    };
    this.post({ type: 'surprisal', ...SurprisalPanel.lastShown });
  }

  private clear(message: string): void {
    if (this.shown) for (const ty of [...this.rankTypes, ...this.bitsTypes, this.copiedType]) this.shown.editor.setDecorations(ty, []);
    this.shown = undefined;
    SurprisalPanel.lastShown = undefined;
    this.post({ type: 'empty', message });
  }

  private post(m: ToSurprisal): void {
    this.queued = m;
    if (this.ready) void this.panel.webview.postMessage(m);
  }

  private dispose(): void {
    if (this.shown) for (const ty of [...this.rankTypes, ...this.bitsTypes, this.copiedType]) this.shown.editor.setDecorations(ty, []);
    for (const d of [...this.disposables, ...this.rankTypes, ...this.bitsTypes, this.copiedType]) d.dispose();
    if (SurprisalPanel.current === this) SurprisalPanel.current = undefined;
  }
}

function surprisalStrings(): Record<string, string> {
  return {
    title: vscode.l10n.t('Surprisal'),
    byRank: vscode.l10n.t('By rank'),
    byBits: vscode.l10n.t('By bits per character'),
    rankBuckets: [vscode.l10n.t('top 10'), vscode.l10n.t('top 100'), vscode.l10n.t('top 1000'), vscode.l10n.t('beyond')].join('\n'),
    bitsBuckets: [
      vscode.l10n.t('under 1 bit'),
      vscode.l10n.t('1–2 bits'),
      vscode.l10n.t('2–4 bits'),
      vscode.l10n.t('4–8 bits'),
      vscode.l10n.t('8 bits or more'),
    ].join('\n'),
    explainRank: vscode.l10n.t(
      'Each token is coloured by where the token that is actually there ranked among the model’s predictions (GLTR): green = among its 10 likeliest, yellow = 100, red = 1000, purple = further down. Text the model finds predictable is green; surprises are red and purple.',
    ),
    explainBits: vscode.l10n.t(
      'Each token is coloured by its surprisal, −log₂ p, per character it spells: green is cheap to predict, purple expensive.',
    ),
    summary: vscode.l10n.t('{0}: {1} tokens, {2} characters · {3} bits per character under {4}'),
    truncated: vscode.l10n.t('Only the first {0} tokens are coloured.'),
    copied: vscode.l10n.t('Longest stretch found verbatim in the training text ({0}): {1} characters'),
    copiedNone: vscode.l10n.t(
      'The model’s training text is not at hand (no run.json, or its file is gone or was edited after training), so copying is not checked.',
    ),
    reveal: vscode.l10n.t('Show in the editor'),
    tokensUnit: vscode.l10n.t('{0} tokens ({1})'),
  };
}
