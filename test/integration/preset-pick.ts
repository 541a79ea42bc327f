import * as vscode from 'vscode';
import { until } from './fixtures';

// Train Model on This File's preset pick, caught so a test can choose a row as a click does.
export type PresetRow = vscode.QuickPickItem & { choice?: { preset: string; arch?: string }; custom?: true };
export type PresetPick = vscode.QuickPick<PresetRow>;

/**
 * Runs `body` with Train Model on This File's preset pick caught: `shown(measured)` gives the pick
 * (once every row has its estimate, when `measured`), and `choose(row)` accepts that row as a click does.
 */
export async function withPresetPick<T>(
  body: (shown: (measured: boolean) => Promise<PresetPick>, choose: (row: PresetRow) => void) => Promise<T>,
): Promise<T> {
  const window = vscode.window as { createQuickPick: unknown };
  const original = vscode.window.createQuickPick;
  let pick: PresetPick | undefined;
  let accept: (() => void) | undefined;
  window.createQuickPick = () => {
    const real = original.call(vscode.window) as PresetPick;
    const onDidAccept = real.onDidAccept;
    Object.defineProperty(real, 'onDidAccept', {
      value: (listener: () => void, thisArg?: unknown, disposables?: vscode.Disposable[]) => {
        accept = () => listener.call(thisArg);
        return onDidAccept(listener, thisArg, disposables);
      },
    });
    pick = real;
    return real;
  };
  try {
    return await body(
      (measured) => until('the preset pick', () => (pick && accept && !(measured && pick.busy) ? pick : undefined), 170_000),
      (row) => {
        pick!.selectedItems = [row];
        accept!();
      },
    );
  } finally {
    window.createQuickPick = original;
  }
}
