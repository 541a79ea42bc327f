import * as vscode from 'vscode';
import { basename } from 'node:path';
import { open, readFile, stat } from 'node:fs/promises';
import { Ctx } from '../ctx';
import { corpusProblem } from '../../core/corpus';
import { formatBytes } from '../../core/format-bytes';
import { errorText } from '../error-text';

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

/**
 * Refuses, with a message naming the file, a file that is no text to train on or tokenize (empty,
 * binary, not UTF-8, too large) before anything is asked or measured. Returns the refusal, or undefined when the file is usable.
 * `maxBytes`: the size a command reads whole (tokenize); training prepares a corpus of any size a
 * chunk at a time, so only its first part is looked at here and the rest as it is prepared.
 */
export async function checkTextFile(ctx: Ctx, target: vscode.Uri, maxBytes?: number): Promise<{ refused: string } | undefined> {
  const name = basename(target.fsPath);
  const message = await textFileProblem(target.fsPath, name, maxBytes);
  if (!message) return undefined;
  ctx.log.appendLine(`refused ${target.fsPath}: ${message}`);
  void vscode.window.showWarningMessage(message);
  return { refused: message };
}

// What is looked at of a file larger than this (enough to tell a binary or non-UTF-8 file).
const HEAD_BYTES = 4 << 20;

async function textFileProblem(path: string, name: string, maxBytes?: number): Promise<string | undefined> {
  try {
    const size = (await stat(path)).size;
    if (maxBytes !== undefined && size > maxBytes)
      return vscode.l10n.t(
        '{0} is {1}, more than the {2} Corpus Lab trains on: use a part of it.',
        name,
        formatBytes(size),
        formatBytes(maxBytes),
      );
    const problem = corpusProblem(size <= HEAD_BYTES ? await readFile(path) : await fileHead(path));
    if (problem?.kind === 'empty') return vscode.l10n.t('{0} is empty: there is nothing to train on.', name);
    if (problem?.kind === 'binary') return vscode.l10n.t('{0} is not a text file (it contains binary data).', name);
    if (problem?.kind === 'not-utf8') return vscode.l10n.t('{0} is not UTF-8 text: save it with UTF-8 encoding and try again.', name);
    return undefined;
  } catch (e) {
    return vscode.l10n.t('Cannot read {0} ({1}).', name, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
}

/** The first HEAD_BYTES of a file, without its last character (which the cut may have split). */
async function fileHead(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(HEAD_BYTES), 0, HEAD_BYTES, 0);
    let end = bytesRead - 1;
    while (end > 0 && end > bytesRead - 4 && (buffer[end] & 0xc0) === 0x80) end--;
    return buffer.subarray(0, Math.max(0, end));
  } finally {
    await file.close();
  }
}

/** For an input box: undefined when core accepts the number; else what core says is wrong (in its English words). */
export function coreValidation(text: string, check: (v: number) => unknown): string | undefined {
  const v = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(v)) return vscode.l10n.t('Enter a number.');
  try {
    check(v);
    return undefined;
  } catch (e) {
    return errorText(e);
  }
}

/** Whether `path` is a folder, without blocking the extension host (false when it cannot be read). */
export function isFolder(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
