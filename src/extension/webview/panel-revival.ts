import * as vscode from 'vscode';

/**
 * VS Code restores a webview panel's tab with the title it had when the window closed, and revives
 * the panel (our serializer, which titles it in the current display language) only when its tab is
 * first shown. After the display language changed, a panel in a background tab kept the old
 * language's title until clicked, and there is no API to title a panel that is not revived. So on
 * the first start-up in a new language, each such tab is shown once, in turn, and the tab that was
 * in front of its group comes back: the same tabs, in the same order, each with its saved state.
 */

const LANGUAGE_KEY = 'corpusLab.panelTitlesLanguage';
/** A panel's serializer reads its runs from disk; a busy machine is given this long. */
const REVIVE_WITHIN_MS = 15_000;
const FOCUS_GROUP = ['First', 'Second', 'Third', 'Fourth', 'Fifth', 'Sixth', 'Seventh', 'Eighth'].map(
  (n) => `workbench.action.focus${n}EditorGroup`,
);

const serialized = new Set<string>();
const revived = new Set<string>();
const onRevived = new vscode.EventEmitter<string>();

/** Registers a panel's serializer; the panel's background tabs then follow a change of display language. */
export function registerPanelSerializer(
  viewType: string,
  deserialize: (panel: vscode.WebviewPanel, state: unknown) => Promise<void>,
): vscode.Disposable {
  serialized.add(viewType);
  const registration = vscode.window.registerWebviewPanelSerializer(viewType, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
      try {
        await deserialize(panel, state);
      } finally {
        revived.add(viewType);
        onRevived.fire(viewType);
      }
    },
  });
  return new vscode.Disposable(() => {
    serialized.delete(viewType);
    registration.dispose();
  });
}

/** At start-up: when the display language is not the one the panels were last titled in, revives the panels VS Code left in background tabs. */
export async function retitleBackgroundPanels(workspaceState: vscode.Memento, log: (line: string) => void): Promise<void> {
  const titledIn = workspaceState.get<string>(LANGUAGE_KEY);
  try {
    if (titledIn !== undefined && titledIn !== vscode.env.language) await reviveBackgroundTabs(log);
    await workspaceState.update(LANGUAGE_KEY, vscode.env.language);
  } catch (e) {
    log(`panels: could not retitle the background tabs in ${vscode.env.language}: ${(e as Error).message}`);
  }
}

async function reviveBackgroundTabs(log: (line: string) => void): Promise<void> {
  const focused = vscode.window.tabGroups.activeTabGroup.viewColumn;
  for (const column of vscode.window.tabGroups.all.map((g) => g.viewColumn)) {
    const tabs = () => vscode.window.tabGroups.all.find((g) => g.viewColumn === column)?.tabs ?? [];
    const waiting = () => tabs().findIndex((t) => !t.isActive && unrevived(t) !== undefined);
    if (waiting() < 0 || column > FOCUS_GROUP.length) continue;
    const front = tabs().find((t) => t.isActive);
    await vscode.commands.executeCommand(FOCUS_GROUP[column - 1]);
    for (let index = waiting(); index >= 0; index = waiting()) {
      const viewType = unrevived(tabs()[index]) as string;
      const done = nextRevival(viewType);
      await vscode.commands.executeCommand('workbench.action.openEditorAtIndex', index);
      if (!(await done)) {
        log(`panels: ${viewType} was not revived within ${REVIVE_WITHIN_MS / 1000} s; its tab keeps its title`);
        revived.add(viewType);
      }
    }
    const frontIndex = front ? tabs().findIndex((t) => t === front || t.label === front.label) : -1;
    if (frontIndex >= 0) await vscode.commands.executeCommand('workbench.action.openEditorAtIndex', frontIndex);
  }
  if (focused <= FOCUS_GROUP.length) await vscode.commands.executeCommand(FOCUS_GROUP[focused - 1]);
}

/** The view type of one of our panels that VS Code has not revived yet, shown in `tab`. */
function unrevived(tab: vscode.Tab): string | undefined {
  if (!(tab.input instanceof vscode.TabInputWebview)) return undefined;
  // VS Code 1.100 reports a panel's view type with a prefix of its own ("mainThreadWebview-").
  const tabViewType = tab.input.viewType;
  for (const viewType of serialized)
    if ((tabViewType === viewType || tabViewType.endsWith(`-${viewType}`)) && !revived.has(viewType)) return viewType;
  return undefined;
}

/** Resolves true when a panel of `viewType` has been revived, false after REVIVE_WITHIN_MS. */
function nextRevival(viewType: string): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      subscription.dispose();
      resolve(false);
    }, REVIVE_WITHIN_MS);
    const subscription = onRevived.event((t) => {
      if (t !== viewType) return;
      clearTimeout(timer);
      subscription.dispose();
      resolve(true);
    });
  });
}
