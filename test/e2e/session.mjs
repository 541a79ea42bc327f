// One end-to-end session: a workspace with the fixtures, code-server with the packaged .vsix and
// the given settings (and display language), Debian's Chromium on its page, screenshots into
// test-artifacts/e2e/<name>/. When a step fails, the session says what the window showed (webviews,
// notifications, the command palette, the end of Corpus Lab's log) and keeps 99-failure.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  codeServerHome,
  installExtension,
  launchChromium,
  outputChannelText,
  startCodeServer,
  setDisplayLanguage,
} from '../../scripts/vscode-test/code-server.mjs';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Trains a run with the CLI into `runDir` before code-server opens the workspace (quicker than through the UI, which has its own tests). */
export function trainWithCli(corpus, runDir, ...flags) {
  execFileSync(process.execPath, [join(repo, 'dist/cli.js'), 'train', corpus, '-o', runDir, ...flags, '--json'], { stdio: 'ignore' });
}

/** A frame that is navigating (a webview loading its page) can leave a query pending: each one gets this long. */
const FRAME_QUERY_MS = 2_000;

/** `promise`, or `fallback` once `ms` have passed. */
function within(ms, promise, fallback) {
  let timer;
  return Promise.race([promise, new Promise((ok) => (timer = setTimeout(() => ok(fallback), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * Opens a session, runs `steps(session)`, and closes it. On a failure it first reports what the
 * window showed (stderr) and keeps a 99-failure screenshot.
 * `vsix`: the package to install (default the universal one); `prepare(folder)`: fills the
 * workspace before code-server opens it; `settings`: user settings; `locale`: display language.
 */
export async function withSession(name, options, steps) {
  for (let attempt = 1; ; attempt++) {
    const session = await openSession(name, options, attempt);
    try {
      await session.load();
      await steps(session);
      if (attempt > 1) process.stdout.write(`⚠ e2e ${name}: passed on attempt ${attempt} (attempt 1's failure is reported above)\n`);
      return;
    } catch (e) {
      await session.reportFailure();
      if (attempt >= ATTEMPTS) throw e;
      process.stdout.write(`⚠ e2e ${name}: attempt ${attempt} failed (${e.message.split('\n')[0]}); once more in a new session\n`);
    } finally {
      await session.close();
    }
  }
}

/**
 * On CI a session that fails is run once more from the start, as Playwright's own runner does on CI:
 * code-server's workbench and webviews have timing of their own (a file watcher, a webview's service
 * worker) that a busy machine can upset once. A failure that repeats fails the test; one that does
 * not is printed as a warning with attempt 1's report, so it is seen.
 */
const ATTEMPTS = process.env.CI ? 2 : 1;

async function openSession(name, { settings, locale, prepare, vsix = join(repo, 'corpus-lab.vsix') }, attempt) {
  assert.ok(existsSync(vsix), 'run `npm run package` first (scripts/test.sh does)');
  // A second attempt's screenshots go beside the first's, which keep the failure.
  const shots = join(repo, 'test-artifacts', 'e2e', attempt === 1 ? name : `${name}-attempt-${attempt}`);
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  const folder = mkdtempSync(join(tmpdir(), `corpus-lab-e2e-${name}-`));
  cpSync(join(repo, 'test/fixtures'), folder, { recursive: true });
  await prepare?.(folder);
  const home = codeServerHome();
  writeFileSync(
    join(home.userDataDir, 'User', 'settings.json'),
    JSON.stringify({
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'security.workspace.trust.enabled': false,
      ...settings,
    }),
  );
  installExtension(repo, home, vsix);
  if (locale) setDisplayLanguage(home, locale);
  const server = await startCodeServer(repo, home, folder);
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 }, locale });
  const shot = (step) => page.screenshot({ path: join(shots, `${step}.png`) });
  const rows = page.locator('.quick-input-list .monaco-list-row');
  // The workbench's and webviews' errors, for the failure report.
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(`${m.text().slice(0, 300)} (${m.location().url.split('/').pop()})`));
  page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message.slice(0, 300)}`));
  return {
    page,
    folder,
    home,
    shot,
    async load() {
      await page.goto(`http://127.0.0.1:${server.port}/?folder=${encodeURIComponent(folder)}`);
      await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
    },
    /** The webview whose page has `selector` (several views are webviews: Tokens, Next Token, charts). */
    async webviewWith(selector, timeout = 30_000) {
      for (const until = Date.now() + timeout; Date.now() < until; await page.waitForTimeout(250)) {
        for (const frame of page.frames()) {
          if (frame.isDetached()) continue;
          const count = frame
            .locator(selector)
            .count()
            .catch(() => 0);
          if (await within(FRAME_QUERY_MS, count, 0)) return frame;
        }
      }
      throw new Error(`no webview shows ${selector} after ${timeout} ms`);
    },
    explorerRow: (file) => page.locator('.explorer-folders-view .monaco-list-row', { hasText: file }),
    /**
     * Clicks an entry of the open context menu. A click that lands while code-server is still laying
     * the menu out can be lost (the menu stays open with the entry highlighted): clicked again then.
     */
    async chooseMenuEntry(entry) {
      for (let attempt = 1; ; attempt++) {
        await entry.click();
        const closed = await page
          .locator('.context-view .action-label')
          .first()
          .waitFor({ state: 'hidden', timeout: 3_000 })
          .then(
            () => true,
            () => false,
          );
        if (closed || attempt === 3) return;
      }
    },
    /**
     * Runs a command from the command palette by its full title ("Corpus Lab: Show Tokens"): Enter
     * only once the palette has filtered to it and it is the selected row (an early Enter runs another).
     * In another display language the row shows `label` (VS Code also matches the English title).
     */
    async runCommand(title, label = title) {
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 20_000 });
      await page.keyboard.type(title, { delay: 10 });
      await page.waitForFunction(
        ([title, label]) =>
          document.querySelector('.quick-input-widget input')?.value === `>${title}` &&
          document.querySelector('.quick-input-list .monaco-list-row.focused .label-name')?.textContent?.trim() === label,
        [title, label],
        { timeout: 20_000 },
      );
      await page.keyboard.press('Enter');
      // The palette closes (or turns into the command's own quick input, such as a file dialog).
      await page.waitForFunction(
        (title) => {
          const palette = document.querySelector('.quick-input-widget');
          return !palette?.checkVisibility() || palette.querySelector('input')?.value !== `>${title}`;
        },
        title,
        { timeout: 20_000 },
      );
    },
    /**
     * Reloads the window with VS Code's own command, which saves the workbench's state (its open
     * editors and panels) before reloading; a browser reload only asks, and the IndexedDB write can
     * be cut off by the navigation, so a panel opened shortly before was sometimes not restored.
     */
    async reloadWindow() {
      await page.keyboard.press('F1');
      await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 20_000 });
      await page.keyboard.type('Developer: Reload Window', { delay: 10 });
      await page.waitForFunction(
        () =>
          document.querySelector('.quick-input-list .monaco-list-row.focused .label-name')?.textContent?.trim() ===
          'Developer: Reload Window',
        undefined,
        { timeout: 20_000 },
      );
      const reloaded = page.waitForEvent('load', { timeout: 60_000 });
      await page.keyboard.press('Enter');
      await reloaded;
      await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
    },
    /** Switches VS Code's display language to `locale` and reloads the window, as VS Code's Configure Display Language does. */
    async switchDisplayLanguage(locale) {
      setDisplayLanguage(home, locale);
      await this.reloadWindow();
    },
    /** Types each of `lines` on a new line at the end of the open editor; then the ghost text it brings. */
    async typeAtEnd(...lines) {
      const editor = page.locator('.editor-instance .monaco-editor').first();
      await editor.waitFor({ state: 'visible' });
      await editor.click();
      await page.keyboard.press('Control+End');
      for (const line of lines) {
        await page.keyboard.press('Enter');
        await page.keyboard.type(line, { delay: 30 });
      }
      return page.locator('.ghost-text-decoration, .ghost-text-decoration-preview').first();
    },
    /** Prints to stderr what the window shows, and keeps a screenshot of it (99-failure.png). */
    async reportFailure() {
      await within(10_000, shot('99-failure'), undefined).catch(() => {});
      const lines = [`--- e2e ${name}: what the window showed at the failure (screenshot: ${join(shots, '99-failure.png')})`];
      // Each webview is an iframe.webview (VS Code's host page) holding its content frame(s).
      for (const host of page.mainFrame().childFrames()) {
        for (const frame of host.childFrames()) {
          const state = await within(
            FRAME_QUERY_MS,
            frame
              .evaluate(() => ({
                title: document.title,
                readyState: document.readyState,
                text: (document.body?.innerText ?? '').replace(/\s+/g, ' ').slice(0, 300),
                // A script or style the page asked for and did not get (status 0: the request never reached VS Code).
                failed: performance
                  .getEntriesByType('resource')
                  .filter((e) => e.responseStatus === 0 || e.responseStatus >= 400)
                  .map((e) => `${e.name.split('/').pop()} (status ${e.responseStatus})`),
              }))
              .catch((e) => ({ error: e.message.split('\n')[0] })),
            { error: 'no answer (navigating?)' },
          );
          const id = await within(
            FRAME_QUERY_MS,
            frame
              .frameElement()
              .then((e) => e.getAttribute('id'))
              .catch(() => '?'),
            '?',
          );
          lines.push(
            state.error
              ? `webview frame #${id}: ${state.error}`
              : `webview "${state.title}" (#${id}, ${state.readyState}${state.failed.length ? `, failed to load ${state.failed.join(', ')}` : ''}): ${state.text || '(empty)'}`,
          );
        }
      }
      const texts = (locator) =>
        within(
          FRAME_QUERY_MS,
          locator.allInnerTexts().catch(() => []),
          [],
        );
      for (const n of await texts(page.locator('.notification-toast .notification-list-item-message')))
        lines.push(`notification: ${n.replace(/\s+/g, ' ')}`);
      if (await within(FRAME_QUERY_MS, page.locator('.quick-input-widget').isVisible(), false))
        lines.push(`command palette: ${(await texts(rows)).map((r) => r.replace(/\s+/g, ' ')).join(' | ') || '(no rows)'}`);
      lines.push(...consoleErrors.slice(-20).map((e) => `console error: ${e}`));
      const log = outputChannelText(home, 'Corpus Lab').trimEnd().split('\n').slice(-40);
      lines.push('Corpus Lab log (last 40 lines):', ...log.map((l) => `  ${l}`), '---');
      process.stderr.write(`${lines.join('\n')}\n`);
    },
    async close() {
      await browser.close();
      server.stop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
