import * as vscode from 'vscode';

// While a panel (the loss chart, Attention, Surprisal, Compare) has focus there is no active text
// editor; the views and the status bar keep following the one the user was in, if it is still shown.
let lastDocument: vscode.TextDocument | undefined;

export function trackTextEditor(): vscode.Disposable {
  lastDocument = vscode.window.activeTextEditor?.document;
  return vscode.window.onDidChangeActiveTextEditor((e) => {
    if (e) lastDocument = e.document;
  });
}

/** The active text editor, or while a panel has focus, the last active one that is still visible. */
export function currentTextEditor(): vscode.TextEditor | undefined {
  return vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors.find((e) => e.document === lastDocument);
}
