// End to end: VS Code switched from Korean to English while Compare Runs and the loss chart sit in
// background tabs. VS Code restores a background webview tab with its saved title and revives the
// panel only when the tab is shown, so their titles stayed Korean; they must follow the new language
// at start-up, with the tabs, their order, the active tab and each panel's runs as they were.
// Screenshots go to test-artifacts/e2e/panel-language/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { trainWithCli, withSession } from './session.mjs';

test(
  'Korean → English: Compare and loss chart tabs in the background take English titles at start-up, layout kept',
  { timeout: 600_000 },
  () =>
    withSession('panel-language', { locale: 'ko', settings: { 'corpusLab.completion.enabled': false } }, async (session) => {
      const { page, shot, folder, explorerRow } = session;
      const rows = page.locator('.quick-input-list .monaco-list-row');
      const tabs = page.locator('.tabs-container .tab');
      const tabLabels = () => tabs.locator('.label-name').allInnerTexts();
      const activeTab = () => page.locator('.tabs-container .tab.active .label-name').innerText();
      for (const [name, text] of [
        ['ko-run', 'speech-ko.txt'],
        ['en-run', 'speech-en.txt'],
      ])
        trainWithCli(join(folder, text), join(folder, '.corpus-lab', 'runs', name), '--layers', '1', '--width', '32', '--max-steps', '20');
      await page.locator('.statusbar-item', { hasText: '모델 없음' }).waitFor({ state: 'visible', timeout: 60_000 });

      // Compare Runs on the two runs, then its loss chart, in one editor group.
      await session.runCommand('Corpus Lab: Compare Runs…', 'Corpus Lab: 학습 비교…');
      for (const name of ['ko-run', 'en-run']) await rows.filter({ hasText: name }).first().click();
      await page.keyboard.press('Enter');
      const compare = await session.webviewWith('#metrics-table', 60_000);
      await compare.locator('#open-chart').click();
      await session.webviewWith('#overlays', 60_000);
      await session.runCommand('View: Join All Editor Groups');
      // A text file in front: both panels are in the background.
      await explorerRow('speech-en.txt').dblclick();
      await page.locator('.tabs-container .tab.active', { hasText: 'speech-en.txt' }).waitFor({ state: 'visible', timeout: 20_000 });
      const koreanLabels = await tabLabels();
      assert.deepEqual([...koreanLabels].sort(), ['speech-en.txt', '비교: 학습 2개', '손실: ko-run'].sort());
      await shot('01-korean');

      await session.switchDisplayLanguage('en');
      // Our strings are English now (VS Code's own were English all along: the test pack is empty):
      // the status bar names the model serving speech-en.txt.
      await page.locator('.statusbar-item', { hasText: 'this file' }).waitFor({ state: 'visible', timeout: 60_000 });
      const englishLabels = koreanLabels.map((l) => ({ '비교: 학습 2개': 'Compare: 2 runs', '손실: ko-run': 'Loss: ko-run' })[l] ?? l);
      await page
        .waitForFunction(
          (want) => JSON.stringify([...document.querySelectorAll('.tabs-container .tab .label-name')].map((e) => e.textContent)) === want,
          JSON.stringify(englishLabels),
          { timeout: 60_000 },
        )
        .catch(async () => assert.fail(`the tabs after switching to English: ${JSON.stringify(await tabLabels())}`));
      assert.equal(await activeTab(), 'speech-en.txt', 'the tab in front stays in front');
      await shot('02-english');

      // Each panel shows its runs, in English.
      await tabs.filter({ hasText: 'Compare: 2 runs' }).click();
      const compared = await session.webviewWith('#settings-table', 60_000);
      await compared.locator('#metrics-table').waitFor({ state: 'visible', timeout: 30_000 });
      const text = await compared.locator('#app').innerText();
      assert.ok(text.includes('Settings that differ') && text.includes('ko-run') && text.includes('en-run'), text.slice(0, 600));
      await tabs.filter({ hasText: 'Loss: ko-run' }).click();
      const chart = await session.webviewWith('#overlays', 60_000);
      assert.match(await chart.locator('#overlays').innerText(), /en-run/);
      assert.deepEqual(await tabLabels(), englishLabels, 'the same tabs in the same order');
      await shot('03-english-panels');
    }),
);
