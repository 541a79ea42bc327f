// One end-to-end session: a workspace with the fixtures, code-server with the packaged .vsix and
// the given settings (and display language), Debian's Chromium on its page, screenshots into
// test-artifacts/e2e/<name>/.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  codeServerHome,
  installExtension,
  launchChromium,
  startCodeServer,
  installDisplayLanguage,
} from '../../scripts/vscode-test/code-server.mjs';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** `vsix`: the package to install (default the universal one). */
export async function openSession(name, { settings, locale, vsix = join(repo, 'corpus-lab.vsix') }) {
  assert.ok(existsSync(vsix), 'run `npm run package` first (scripts/test.sh does)');
  const shots = join(repo, 'test-artifacts', 'e2e', name);
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  const folder = mkdtempSync(join(tmpdir(), 'corpus-lab-e2e-ws-'));
  cpSync(join(repo, 'test/fixtures'), folder, { recursive: true });
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
  if (locale) installDisplayLanguage(home, locale);
  const server = await startCodeServer(repo, home, folder, locale);
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 }, locale });
  const shot = (step) => page.screenshot({ path: join(shots, `${step}.png`) });
  await page.goto(`http://127.0.0.1:${server.port}/?folder=${encodeURIComponent(folder)}`);
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
  return {
    page,
    folder,
    home,
    shot,
    /** The webview whose page has `selector` (several views are webviews: Tokens, Next Token, charts). */
    async webviewWith(selector, timeout = 30_000) {
      for (const until = Date.now() + timeout; Date.now() < until; await page.waitForTimeout(250)) {
        for (const frame of page.frames()) {
          if (
            await frame
              .locator(selector)
              .count()
              .catch(() => 0)
          )
            return frame;
        }
      }
      throw new Error(`no webview shows ${selector} after ${timeout} ms`);
    },
    /** The webview frame of the Nth ready webview (-1: the newest). */
    webview: (nth = 0) => page.frameLocator(`iframe.webview.ready >> nth=${nth}`).frameLocator('#active-frame'),
    explorerRow: (file) => page.locator('.explorer-folders-view .monaco-list-row', { hasText: file }),
    async close() {
      await browser.close();
      server.stop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
