import * as vscode from 'vscode';
import { Ctx } from '../ctx';

/** The file a command acts on: the one right-clicked, else the active editor's (saved to disk). */
export async function resolveTarget(uri?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
  if (!target) {
    vscode.window.showInformationMessage(vscode.l10n.t('Open a text file first (or right-click one in the Explorer).'));
    return undefined;
  }
  if (target.scheme !== 'file') {
    vscode.window.showWarningMessage(vscode.l10n.t('Save the document to a file first: Corpus Lab trains on files on disk.'));
    return undefined;
  }
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
  if (doc?.isDirty) await doc.save();
  return target;
}

/**
 * An error notification with a "Show Log" action. It does not wait for the user: a command that
 * failed finishes at once, while the notification stays until dismissed.
 */
export function showError(ctx: Ctx, message: string): void {
  ctx.log.appendLine(`error: ${message}`);
  const showLog = vscode.l10n.t('Show Log');
  void vscode.window.showErrorMessage(message, showLog).then((answer) => answer === showLog && ctx.log.show(true));
}
