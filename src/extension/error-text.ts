import * as vscode from 'vscode';
import { isMessage, oneLine } from '../core/errors';
import { renderMessage } from './l10n';

/**
 * What to show for a failure: a user error (a UserError of core code run here, or a WorkerError
 * carrying one's parts) translated; anything else as it is.
 */
export function errorText(e: unknown): string {
  if (!(e instanceof Error)) return oneLine(String(e));
  const parts = (e as { parts?: unknown }).parts;
  return oneLine(isMessage(parts) ? renderMessage(parts, (template, args) => vscode.l10n.t(template, ...args)) : e.message);
}
