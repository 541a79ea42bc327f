// End to end, the universal .vsix (no native addon inside): installed in code-server, it trains on
// the wasm engine, says so in the preset pick, and the log says why the native engine was not used.
// Screenshots go to test-artifacts/e2e/universal/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { outputChannelText } from '../../scripts/vscode-test/code-server.mjs';
import { repo, withSession } from './session.mjs';

test('universal .vsix: no .node inside, trains on wasm with the reason in the log', { timeout: 600_000 }, async () => {
  const vsix = join(repo, 'corpus-lab.vsix');
  assert.ok(existsSync(vsix), 'run `npm run package` first (scripts/test.sh does)');
  const entries = execFileSync('unzip', ['-Z1', vsix], { encoding: 'utf8' }).split('\n');
  assert.ok(entries.includes('extension/dist/worker.js'), 'the worker bundle is packaged');
  assert.deepEqual(
    entries.filter((e) => e.endsWith('.node')),
    [],
    'no native addon in the universal .vsix',
  );

  await withSession(
    'universal',
    { vsix, settings: { 'corpusLab.training.maxSteps': 10 } },
    async ({ page, shot, folder, home, chooseMenuEntry }) => {
      const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'speech-en.txt' });
      await row.waitFor({ state: 'visible', timeout: 60_000 });
      await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'visible', timeout: 60_000 });
      await row.click({ button: 'right' });
      const entry = page.locator('.context-view .action-label', { hasText: 'Train Model on This File' });
      await entry.waitFor({ state: 'visible', timeout: 20_000 });
      await shot('01-context-menu');
      await chooseMenuEntry(entry);
      await page.locator('.quick-input-widget').waitFor({ state: 'visible', timeout: 20_000 });
      // The preset row (the quick run names Tiny too).
      const tiny = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Tiny' }).first();
      await page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'parameters' })
        .first()
        .waitFor({ state: 'visible', timeout: 60_000 });
      await shot('02-preset-pick');
      const placeholder = await page.locator('.quick-input-widget .quick-input-box input').getAttribute('placeholder');
      assert.match(placeholder, /wasm engine · \d+ threads? · native engine not available/, placeholder);
      await tiny.click();
      await page.locator('.notification-toast', { hasText: 'Training finished' }).waitFor({ state: 'visible', timeout: 240_000 });
      await shot('03-finished');

      const installed = readdirSync(home.extensionsDir).find((d) => d.startsWith('corpus-lab.corpus-lab-'));
      assert.ok(
        installed && !existsSync(join(home.extensionsDir, installed, 'dist', 'corpus_lab_native.node')),
        `installed as ${installed}`,
      );
      const runsDir = join(folder, '.corpus-lab', 'runs');
      const runName = readdirSync(runsDir).find((n) => n.endsWith('speech-en'));
      assert.ok(runName, `no run in ${runsDir}`);
      const runJson = JSON.parse(readFileSync(join(runsDir, runName, 'run.json'), 'utf8'));
      assert.equal(runJson.backend.name, 'wasm', JSON.stringify(runJson.backend));
      const log = outputChannelText(home, 'Corpus Lab');
      assert.match(log, /start \S+ params \d+ backend wasm threads \d+ steps 10/, log.slice(0, 2000));
      assert.match(
        log,
        /notice step 0: native engine not used: this package has no native addon \(the universal \.vsix\): on Linux x64, install Corpus Lab's linux-x64 package, which has it/,
      );
    },
  );
});
