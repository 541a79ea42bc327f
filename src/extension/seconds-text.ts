import * as vscode from 'vscode';
import { roughDuration } from '../core/duration';

/** A duration as a user reads it: "40 s", "3 min", "2 h". */
export function formatSeconds(s: number): string {
  const { value, unit } = roughDuration(s);
  if (unit === 's') return vscode.l10n.t('{0} s', value);
  if (unit === 'min') return vscode.l10n.t('{0} min', value);
  return vscode.l10n.t('{0} h', value);
}
