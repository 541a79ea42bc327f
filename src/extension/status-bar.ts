import * as vscode from 'vscode';
import { Ctx, modelName } from './ctx';
import { describeEngine } from './engine-label';

/** Two items: live training (loss, tokens/s; opens the chart) and the active model with the completion toggle. */
export function registerStatusBar(ctx: Ctx): vscode.Disposable {
  const training = vscode.window.createStatusBarItem('corpusLab.training', vscode.StatusBarAlignment.Left, 50);
  training.name = vscode.l10n.t('Corpus Lab Training');
  training.command = 'corpusLab.openLossChart';
  const model = vscode.window.createStatusBarItem('corpusLab.model', vscode.StatusBarAlignment.Right, 100);
  model.name = vscode.l10n.t('Corpus Lab Model');
  model.command = 'corpusLab.toggleInlineCompletion';

  const showModel = () => {
    const active = ctx.activeModel;
    const on = ctx.config.completionEnabled;
    model.text = `$(${on ? 'sparkle' : 'circle-slash'}) ${active ? modelName(active) : vscode.l10n.t('no model')}`;
    model.tooltip = new vscode.MarkdownString(
      `${active ? vscode.l10n.t('Active model: {0}', active) : vscode.l10n.t('No active model')}\n\n${on ? vscode.l10n.t('Inline completion is on; click to turn it off.') : vscode.l10n.t('Inline completion is off; click to turn it on.')}`,
    );
    model.show();
  };
  showModel();

  let engine = '';
  const subs = [
    ctx.onDidChangeActiveModel(showModel),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('corpusLab.completion.enabled') && showModel()),
    ctx.onTrainEvent(({ event }) => {
      if (event.type === 'step') {
        training.text = `$(pulse) ${vscode.l10n.t('loss {0}', event.loss.toFixed(3))} · ${vscode.l10n.t('{0} tokens/s', Math.round(event.tokens_per_s).toLocaleString())}`;
        training.tooltip = `${vscode.l10n.t('Corpus Lab is training: step {0}, epoch {1}. Click for the loss chart.', event.step, event.epoch)}\n${engine}`;
        training.show();
      } else if (event.type === 'start') {
        engine = describeEngine(event);
        training.text = `$(loading~spin) ${vscode.l10n.t('starting training…')}`;
        training.show();
      } else if (event.type === 'done') training.hide();
    }),
  ];
  return vscode.Disposable.from(training, model, ...subs, { dispose: () => undefined });
}
