// End to end, what a new user saw squeezed or cut (issue 19/20 walk): Next Token gets room when
// asked for (it lives in the bottom panel, not under Runs and Tokens in the side bar), and the
// Attention grid of an 8-head model wraps to a half-width panel; an enlarged head's key labels stay
// in their own columns. Screenshots go to test-artifacts/e2e/views-room/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { trainWithCli, withSession } from './session.mjs';

/** Each key label of the enlarged head whose characters are laid out past its own column, as "label: px". */
function keyLabelsOutsideColumns(frame) {
  return frame.evaluate(() =>
    [...document.querySelectorAll('#enlarged th.key')].flatMap((th) => {
      const box = th.getBoundingClientRect();
      const text = th.firstChild;
      let over = 0;
      for (let i = 0; text && i < text.length; i++) {
        const range = document.createRange();
        range.setStart(text, i);
        range.setEnd(text, i + 1);
        for (const r of range.getClientRects()) over = Math.max(over, box.left - r.left, r.right - box.right);
      }
      return over > 0 ? [`${th.textContent}: ${over.toFixed(1)}`] : [];
    }),
  );
}

test(
  'Next Token opens with room; an 8-head Attention grid wraps to a half-width panel, and key labels keep to their columns',
  { timeout: 600_000 },
  async () => {
    const prepare = (folder) =>
      trainWithCli(
        join(folder, 'speech-ko.txt'),
        join(folder, '.corpus-lab', 'runs', 'ko-8-heads'),
        ...[
          '--layers',
          '2',
          '--heads',
          '8',
          '--width',
          '64',
          '--context',
          '32',
          '--batch',
          '8',
          '--max-steps',
          '30',
          '--seed',
          '1',
          '--tokenizer',
          'bpe',
          '--vocab-size',
          '1000',
        ],
      );
    const settings = { 'corpusLab.completion.enabled': false };
    await withSession('views-room', { prepare, settings }, async (session) => {
      const { page, shot, runCommand } = session;
      const webview = (selector) => session.webviewWith(selector, 60_000);
      await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'visible', timeout: 60_000 });
      await runCommand('Corpus Lab: Set Active Model');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'ko-8-heads' }).first().click();
      await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'detached', timeout: 20_000 });
      await session.explorerRow('speech-ko.txt').dblclick();
      const editor = page.locator('.editor-instance .monaco-editor').first();
      await editor.waitFor({ state: 'visible' });
      // The end of the first sentence's line (words with spaces before them: key labels such as ␣우리).
      const toSentence = async () => {
        await editor.click();
        await page.keyboard.press('Control+Home');
        for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowDown');
        await page.keyboard.press('End');
      };
      await toSentence();

      // 1. Next Token, as a new user asks for it (the side bar's Runs and Tokens left open): the
      // candidates and the lens have room without resizing anything.
      await runCommand('Corpus Lab: Show Next Token Candidates');
      const next = await webview('#candidates tr.kept');
      await page.waitForTimeout(500);
      await shot('01-next-token');
      const height = await next.evaluate(() => window.innerHeight);
      assert.ok(height >= 250, `the Next Token view is ${height} px high`);

      // 2. Attention of the line, beside the editor (half the editor area): 2 layers × 8 heads, none off the right edge.
      await toSentence();
      await runCommand('Corpus Lab: Show Attention of the Line or Selection');
      const att = await webview('#grid canvas');
      assert.equal(await att.locator('#grid canvas').count(), 16);
      await page.waitForTimeout(500);
      await shot('02-attention-grid');
      const layout = await att.evaluate(() => ({
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        right: Math.max(...[...document.querySelectorAll('#grid canvas')].map((c) => c.getBoundingClientRect().right)),
        width: document.documentElement.clientWidth,
      }));
      assert.ok(layout.width < 900, `the panel is half the editor area (${layout.width} px)`);
      assert.equal(layout.overflow, 0, `the grid is wider than its panel by ${layout.overflow} px`);
      assert.ok(layout.right <= layout.width, `a head ends at ${layout.right} px in a ${layout.width} px panel`);

      // 3. One head enlarged: each key's label (such as ␣권) is drawn inside its own column.
      await att.locator('#grid canvas[data-layer="1"][data-head="7"]').click();
      await att.locator('#enlarged').waitFor({ state: 'visible' });
      await shot('03-attention-head');
      assert.ok((await att.locator('#enlarged th.key').count()) > 3);
      assert.deepEqual(await keyLabelsOutsideColumns(att), []);
      // The cells stay square (a cell of the grid's own layout once made them a flex box, each row taller).
      const tallest = await att.locator('#enlarged').evaluate((t) => Math.max(...[...t.rows].slice(1).map((r) => r.cells[1].offsetHeight)));
      assert.ok(tallest <= 24, `a row of the enlarged head is ${tallest} px high`);
    });
  },
);
