import * as vscode from 'vscode';
import { Ctx } from '../ctx';

export function toggleCompletionCommand(ctx: Ctx) {
  return async () => {
    const on = !ctx.config.completionEnabled;
    await ctx.config.setCompletionEnabled(on);
    vscode.window.setStatusBarMessage(
      on ? vscode.l10n.t('Corpus Lab: inline completion on') : vscode.l10n.t('Corpus Lab: inline completion off'),
      3000,
    );
  };
}

export function openSampleCommand(ctx: Ctx) {
  return async () => {
    const ko = vscode.env.language.startsWith('ko');
    const file = vscode.Uri.joinPath(ctx.extension.extensionUri, 'media', 'samples', ko ? 'constitution-ko.txt' : 'shakespeare.txt');
    await vscode.window.showTextDocument(file);
  };
}
