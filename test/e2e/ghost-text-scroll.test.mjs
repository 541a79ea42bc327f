// End to end, issue 18 item 22: ghost text at the end of a long unwrapped Korean line. The editor
// scrolls right to show the cursor there (VS Code's own doing, before any ghost text: the short
// lines are then off to the left and look empty), the ghost text does not scroll it further, and
// going back to the start of the file scrolls it back. The 16,777,216 px "scroll width" seen then
// is the width VS Code gives every editor's lines layer, whatever is typed.
// Screenshots go to test-artifacts/e2e/ghost-text-scroll/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { trainWithCli, withSession } from './session.mjs';

test(
  'ghost text at the end of a long Korean line: no extra horizontal scroll, and the start of the file shows again',
  { timeout: 600_000 },
  () => {
    const prepare = (folder) =>
      trainWithCli(
        join(folder, 'speech-ko.txt'),
        join(folder, '.corpus-lab', 'runs', 'ko-char'),
        ...['--layers', '1', '--heads', '2', '--width', '32', '--context', '32', '--batch', '8', '--max-steps', '60', '--seed', '1'],
      );
    const settings = {
      'corpusLab.completion.debounceMs': 50,
      'corpusLab.completion.temperature': 0,
      'editor.inlineSuggest.enabled': true,
      'editor.wordWrap': 'off',
    };
    return withSession('ghost-text-scroll', { prepare, settings }, async (session) => {
      const { page, shot, runCommand } = session;
      await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'visible', timeout: 60_000 });
      await runCommand('Corpus Lab: Set Active Model');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'ko-char' }).first().click();
      await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'detached', timeout: 20_000 });
      await session.explorerRow('speech-ko.txt').dblclick();
      const editor = page.locator('.editor-instance .monaco-editor').first();
      await editor.waitFor({ state: 'visible' });
      await editor.click();
      /** How far the editor is scrolled right (VS Code moves its lines layer left by that much), and that layer's width. */
      const scroll = () =>
        editor.evaluate((e) => {
          const lines = e.querySelector('.lines-content');
          return { left: Math.max(0, -parseFloat(lines.style.left)), width: lines.offsetWidth };
        });

      // Line 3 is about 430 characters: its end is thousands of pixels right.
      await page.keyboard.press('Control+Home');
      for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowDown');
      await page.keyboard.press('End');
      await page.waitForTimeout(300);
      const atEnd = await scroll();
      assert.ok(atEnd.left > 2000, `scrolled ${atEnd.left} px at the end of the long line`);
      assert.equal(atEnd.width, 16_777_216, "VS Code's own lines layer, before any ghost text");
      await shot('01-end-of-long-line');

      await page.keyboard.type('다', { delay: 30 });
      await page.locator('.ghost-text-decoration, .ghost-text-decoration-preview').first().waitFor({ state: 'attached', timeout: 60_000 });
      await page.waitForTimeout(300);
      const withGhost = await scroll();
      // One more character typed (Hangul is about 14 px wide here), nothing for the ghost text.
      assert.ok(withGhost.left - atEnd.left < 30, `the ghost text scrolled the editor from ${atEnd.left} to ${withGhost.left} px`);
      await shot('02-ghost-text');

      await page.keyboard.press('Escape');
      await page.keyboard.press('Control+Home');
      await page.waitForTimeout(300);
      assert.equal((await scroll()).left, 0);
      assert.match(await editor.locator('.view-lines').innerText(), /대한민국헌법/, 'line 1 shows its text');
      await shot('03-back-at-the-start');
    });
  },
);
