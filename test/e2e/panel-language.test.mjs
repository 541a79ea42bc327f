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
      // Each editor group's tab titles ("*" marks the one in front), and which group has the focus.
      const layout = () =>
        page.evaluate(() => {
          const groups = [...document.querySelectorAll('.editor-group-container')];
          return {
            groups: groups.map((g) =>
              [...g.querySelectorAll('.tabs-container .tab')].map(
                (t) => `${t.classList.contains('active') ? '*' : ''}${t.querySelector('.label-name')?.textContent}`,
              ),
            ),
            focused: groups.findIndex((g) => g.classList.contains('active')),
          };
        });
      for (const [name, text] of [
        ['ko-run', 'speech-ko.txt'],
        ['en-run', 'speech-en.txt'],
      ])
        trainWithCli(join(folder, text), join(folder, '.corpus-lab', 'runs', name), '--layers', '1', '--width', '32', '--max-steps', '20');
      await page.locator('.statusbar-item', { hasText: '모델 없음' }).waitFor({ state: 'visible', timeout: 60_000 });

      // Compare Runs on the two runs, and its loss chart beside it.
      await session.runCommand('Corpus Lab: Compare Runs…', 'Corpus Lab: 학습 비교…');
      for (const name of ['ko-run', 'en-run']) await rows.filter({ hasText: name }).first().click();
      await page.keyboard.press('Enter');
      const compare = await session.webviewWith('#metrics-table', 60_000);
      await compare.locator('#open-chart').click();
      await session.webviewWith('#overlays', 60_000);
      // A text file in front of each: both panels are in the background, and the second group has the focus.
      await explorerRow('speech-en.txt').dblclick();
      await page.locator('.tabs-container .tab.active', { hasText: 'speech-en.txt' }).waitFor({ state: 'visible', timeout: 20_000 });
      const groupActive = (i) =>
        page.waitForFunction((i) => document.querySelectorAll('.editor-group-container')[i]?.classList.contains('active'), i);
      await groupActive(0);
      await session.runCommand('View: Focus Last Editor Group');
      await groupActive(1);
      // Quick Open opens into the focused group (the explorer would open into the first).
      for (let attempt = 1; ; attempt++) {
        await page.keyboard.press('Control+P');
        try {
          await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 5_000 });
          await page.keyboard.type('speech-ko.txt', { delay: 10 });
          // Enter only once the list has filtered to it (before, the recently opened speech-en.txt is selected).
          await page
            .locator('.quick-input-list .monaco-list-row.focused', { hasText: 'speech-ko.txt' })
            .waitFor({ state: 'visible', timeout: 5_000 });
          await page.keyboard.press('Enter');
          break;
        } catch (e) {
          // The focus reaching the group's webview late can close Quick Open at once.
          if (attempt === 3) throw e;
          await page.keyboard.press('Escape');
        }
      }
      await page.locator('.tabs-container .tab.active', { hasText: 'speech-ko.txt' }).waitFor({ state: 'visible', timeout: 20_000 });
      const korean = await layout();
      assert.deepEqual(korean, {
        groups: [
          ['비교: 학습 2개', '*speech-en.txt'],
          ['손실: ko-run', '*speech-ko.txt'],
        ],
        focused: 1,
      });
      await shot('01-korean');

      await session.switchDisplayLanguage('en');
      // Our strings are English now (VS Code's own were English all along: the test pack is empty):
      // the status bar names the model serving speech-ko.txt.
      await page.locator('.statusbar-item', { hasText: 'this file' }).waitFor({ state: 'visible', timeout: 60_000 });
      const english = {
        groups: [
          ['Compare: 2 runs', '*speech-en.txt'],
          ['Loss: ko-run', '*speech-ko.txt'],
        ],
        focused: 1,
      };
      // The same tabs in the same order, the same ones in front and the same group focused: only the titles changed.
      for (const until = Date.now() + 60_000; JSON.stringify(await layout()) !== JSON.stringify(english) && Date.now() < until;)
        await page.waitForTimeout(250);
      assert.deepEqual(await layout(), english, 'the editors after switching to English');
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
      await shot('03-english-panels');
    }),
);
