import * as vscode from 'vscode';

// A page that loads says 'ready' within a second or two, but a busy machine has taken over 4 s
// (reloading a page that is only slow detaches it again, seen in CI with 4 s).
const READY_WITHIN_MS = 8_000;
const RELOADS = 3;

/**
 * Gives a webview view or panel its page, and gives it again when the page does not say 'ready' in time.
 * In a browser-hosted VS Code (code-server), webview pages share their origin and a service worker
 * with the workbench; when views start together, a page's script request can miss the webview
 * service worker and fail, and the view would stay blank for good. VS Code reloads a view's page
 * each time the view is shown again (a panel's too, unless it retains its context), so the watch
 * starts again then.
 */
export class ViewPageLoader {
  private timer?: NodeJS.Timeout;
  private reloads = 0;
  /** Times the page said 'ready' (tests read it). */
  readyCount = 0;

  constructor(
    private readonly name: string,
    private readonly view: vscode.WebviewView | vscode.WebviewPanel,
    private readonly html: () => string,
    private readonly log: (line: string) => void,
  ) {
    // A panel that keeps its page while hidden does not load it again when shown; a panel's view
    // state also changes when it only gains or loses focus.
    const keepsPage = 'options' in view && view.options.retainContextWhenHidden === true;
    let wasVisible = view.visible;
    const shownOrHidden = () => {
      if (view.visible === wasVisible) return;
      wasVisible = view.visible;
      if (!view.visible) clearTimeout(this.timer);
      else if (!(keepsPage && this.readyCount > 0)) this.watch();
    };
    if ('onDidChangeVisibility' in view) view.onDidChangeVisibility(shownOrHidden);
    else view.onDidChangeViewState(shownOrHidden);
    view.onDidDispose(() => clearTimeout(this.timer));
    view.webview.html = html();
    this.watch();
  }

  /** The page said 'ready'. */
  ready(): void {
    clearTimeout(this.timer);
    this.reloads = 0;
    this.readyCount++;
  }

  private watch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.view.visible) return;
      if (this.reloads >= RELOADS) return this.log(`${this.name} view: its page did not start after ${RELOADS} reloads`);
      this.reloads++;
      this.log(`${this.name} view: its page did not start within ${READY_WITHIN_MS / 1000} s; loading it again`);
      this.view.webview.html = this.html();
      this.watch();
    }, READY_WITHIN_MS);
  }
}
