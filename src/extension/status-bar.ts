import * as vscode from 'vscode';
import { currentTextEditor } from './text-editor';
import { basename } from 'node:path';
import { Ctx, modelName } from './ctx';
import { describeEngine } from './engine-label';
import { MOSTLY_UNKNOWN } from '../core/model-choice';
import type { Serving } from './serving-model';

/**
 * Two items: live training (loss, tokens/s; opens the chart) and the model serving the active
 * editor's file, with why (click: choose the model for this file, or turn completion off).
 */
export function registerStatusBar(ctx: Ctx): { model: vscode.StatusBarItem; trainingShown: () => boolean } & vscode.Disposable {
  const training = vscode.window.createStatusBarItem('corpusLab.training', vscode.StatusBarAlignment.Left, 50);
  training.name = vscode.l10n.t('Corpus Lab Training');
  training.command = 'corpusLab.openLossChart';
  const model = vscode.window.createStatusBarItem('corpusLab.model', vscode.StatusBarAlignment.Right, 100);
  model.name = vscode.l10n.t('Corpus Lab Model');
  model.command = 'corpusLab.chooseModelForFile';

  // Only the newest answer is shown: switching editors quickly must not leave an older file's model.
  let shown = 0;
  const showModel = async () => {
    const asked = ++shown;
    const doc = currentTextEditor()?.document;
    let serving: Serving | undefined;
    try {
      serving = await ctx.serving.forActiveEditor();
    } catch (e) {
      ctx.log.appendLine(`status bar: ${(e as Error).message}`);
    }
    if (asked !== shown) return;
    const on = ctx.config.completionEnabled;
    const unknown = serving?.unknownShare !== undefined && serving.unknownShare >= MOSTLY_UNKNOWN;
    const icon = !on ? 'circle-slash' : unknown ? 'warning' : 'sparkle';
    model.text = serving
      ? `$(${icon}) ${modelName(serving.model)} · ${shortReason(serving)}`
      : `$(${on ? 'sparkle' : 'circle-slash'}) ${vscode.l10n.t('no model')}`;
    const file = doc ? basename(doc.uri.path) : undefined;
    const lines: string[] = [];
    if (!serving) lines.push(vscode.l10n.t('No active model'));
    else {
      lines.push(file ? servingSentence(serving, file) : vscode.l10n.t('Default model: {0}', modelName(serving.model)));
      if (unknown && file)
        lines.push(
          vscode.l10n.t(
            'Its tokenizer knows only {0}% of the letters in {1}, so it makes no suggestions here.',
            Math.round((1 - serving.unknownShare!) * 100),
            file,
          ),
        );
      if (serving.reason !== 'default' && ctx.activeModel) lines.push(vscode.l10n.t('Default model: {0}', modelName(ctx.activeModel)));
    }
    lines.push(
      `${on ? vscode.l10n.t('Inline completion is on.') : vscode.l10n.t('Inline completion is off.')} ${vscode.l10n.t('Click to choose the model for this file or turn completion on or off.')}`,
    );
    const tooltip = new vscode.MarkdownString();
    lines.forEach((line, i) => (i > 0 ? tooltip.appendMarkdown('\n\n') : tooltip).appendText(line));
    model.tooltip = tooltip;
    model.show();
  };
  const refresh = () => void showModel();
  refresh();

  let typed: NodeJS.Timeout | undefined;
  let engine = '';
  let trainingShown = false;
  const showTraining = (shown: boolean) => {
    trainingShown = shown;
    if (shown) training.show();
    else training.hide();
  };
  const subs = [
    ctx.serving.onDidChange(refresh),
    vscode.window.onDidChangeActiveTextEditor(refresh),
    // A new document's language shows as it is typed.
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document !== currentTextEditor()?.document) return;
      clearTimeout(typed);
      typed = setTimeout(refresh, 500);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('corpusLab.completion.enabled') && refresh()),
    ctx.onTrainEvent(({ event }) => {
      if (event.type === 'step') {
        training.text = `$(pulse) ${vscode.l10n.t('loss {0}', event.loss.toFixed(3))} · ${vscode.l10n.t('{0} tokens/s', Math.round(event.tokens_per_s).toLocaleString())}`;
        training.tooltip = `${vscode.l10n.t('Corpus Lab is training: step {0}, epoch {1}. Click for the loss chart.', event.step, event.epoch)}\n${engine}`;
        showTraining(true);
      } else if (event.type === 'start') {
        engine = describeEngine(event);
        training.text = `$(loading~spin) ${vscode.l10n.t('starting training…')}`;
        showTraining(true);
      } else if (event.type === 'done') showTraining(false);
    }),
    ctx.onDidEndTraining(() => showTraining(false)),
  ];
  return Object.assign(vscode.Disposable.from(training, model, ...subs, { dispose: () => clearTimeout(typed) }), {
    model,
    trainingShown: () => trainingShown,
  });
}

/** Why this model serves the file, in a word or two for the status bar. */
export function shortReason(s: Serving): string {
  switch (s.reason) {
    case 'chosen':
      return vscode.l10n.t('chosen');
    case 'trained':
      return vscode.l10n.t('this file');
    case 'language':
      return vscode.l10n.t('language');
    default:
      return vscode.l10n.t('default model');
  }
}

function servingSentence(s: Serving, file: string): string {
  const name = modelName(s.model);
  switch (s.reason) {
    case 'chosen':
      return vscode.l10n.t('{0} serves {1}: you chose it for this file.', name, file);
    case 'trained':
      return vscode.l10n.t('{0} serves {1}: it was trained on this file.', name, file);
    case 'language':
      return vscode.l10n.t('{0} serves {1}: its tokenizer knows the letters of this file best.', name, file);
    default:
      return vscode.l10n.t('{0} serves {1}: it is the default model (Set Active Model).', name, file);
  }
}
