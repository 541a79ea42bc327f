// End to end, looking inside a model trained on Korean text: the Next Token view at the cursor
// (sliders, click to insert), the Tokens view, and the Attention panel (grid, one head enlarged).
// Screenshots go to test-artifacts/e2e/insight/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { repo, trainWithCli, withSession } from './session.mjs';

test(
  'Korean model: Next Token view (sliders, insert) → Tokens → Attention grid → one head enlarged → surprisal → loss chart in bits per character',
  { timeout: 600_000 },
  async () => {
    const prepare = (folder) => {
      // A small BPE model, so Korean syllables are partly byte pieces (grouped back into syllables by the views).
      const run = join(folder, '.corpus-lab', 'runs', 'ko-bpe');
      trainWithCli(
        join(folder, 'speech-ko.txt'),
        run,
        '--layers',
        '2',
        '--heads',
        '2',
        '--width',
        '32',
        '--context',
        '32',
        '--batch',
        '8',
        '--tokenizer',
        'bpe',
        '--vocab-size',
        '320',
        '--max-steps',
        '150',
        '--seed',
        '1',
      );
    };
    const settings = { 'corpusLab.completion.enabled': false };
    await withSession('insight', { prepare, settings }, async (session) => {
      const { page, shot, runCommand } = session;
      // Inference under a busy CPU can take a while: a minute for a view to show its result.
      const webview = (selector) => session.webviewWith(selector, 60_000);
      await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'visible', timeout: 60_000 });

      await runCommand('Corpus Lab: Set Active Model');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'ko-bpe' }).first().click();
      await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'detached', timeout: 20_000 });

      const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'speech-ko.txt' });
      await row.dblclick();
      const editor = page.locator('.editor-instance .monaco-editor').first();
      await editor.waitFor({ state: 'visible' });
      await editor.click();
      // The cursor inside existing text: line 1, after its first 12 characters.
      await page.keyboard.press('Control+Home');
      for (let i = 0; i < 12; i++) await page.keyboard.press('ArrowRight');

      // 1. Next Token: candidates with probability, logit, rank; the following token's rank; Korean context grouped into syllables.
      await runCommand('Corpus Lab: Show Next Token Candidates');
      const next = await webview('#candidates tr.kept');
      await next.locator('#actual').waitFor({ state: 'visible' });
      assert.match(await next.locator('#actual').innerText(), /rank \d+/);
      assert.match(await next.locator('#summary').innerText(), /entropy \d+\.\d\d bits · \d+ tokens? kept/);
      const context = await next.locator('#context').innerText();
      assert.match(context, /[가-힣]/, context);
      assert.ok((await next.locator('#context .group.multi').count()) > 0, 'no syllable made of several byte tokens in the context');
      assert.equal(await next.locator('#candidates tr[data-id]').count(), 20);
      await shot('01-next-token');

      // The sliders reshape the same distribution: temperature 0 keeps one token with all the mass.
      const keptBefore = await next.locator('#candidates tr.kept').count();
      await next.locator('#slider-temperature').fill('0');
      await next.locator('#summary', { hasText: '1 token kept, holding 100.0%' }).waitFor({ state: 'visible', timeout: 5_000 });
      assert.equal(await next.locator('#candidates tr.kept').count(), 1);
      await shot('02-next-token-temperature-0');
      await next.locator('#slider-temperature').fill('1.5');
      await next.locator('#slider-topP').fill('0.5');
      const keptAfter = await next.locator('#candidates tr.kept').count();
      assert.ok(keptAfter >= 1 && keptBefore >= 1);
      await shot('03-next-token-top-p');

      // The logit lens: the embeddings and both layers; the top row's first token is the top candidate.
      await next.locator('#lens summary').click();
      await next.locator('#lens tr.prediction').scrollIntoViewIfNeeded();
      assert.equal(await next.locator('#lens tr').count(), 3);
      assert.deepEqual(await next.locator('#lens th').allInnerTexts(), ['embeddings', 'layer 1', 'layer 2']);
      assert.equal(
        await next.locator('#lens tr.prediction .tok').first().innerText(),
        await next.locator('#candidates tr[data-id] .tok').first().innerText(),
      );
      await shot('03b-logit-lens');

      // Clicking a whole-text candidate inserts it at the cursor: the cursor moves past it.
      const candidate = next.locator('#candidates tr.kept:not(.piece)').first();
      const inserted = [...(await candidate.locator('.tok').innerText()).replace(/␣/g, ' ').replace(/↵/g, '\n')];
      const column = async () =>
        Number((await page.locator('.statusbar-item', { hasText: /Ln \d+, Col \d+/ }).innerText()).match(/Col (\d+)/)[1]);
      const col = await column();
      await candidate.click();
      if (!inserted.includes('\n')) {
        await page.locator('.statusbar-item', { hasText: `Col ${col + inserted.length}` }).waitFor({ state: 'visible', timeout: 10_000 });
      }
      assert.equal((await column()) > col || inserted.includes('\n'), true);
      await shot('04-inserted');
      // Undone and saved: the file on disk is the training text again, so the surprisal step below
      // can look for copying in it (an edited training file is not what the model learned).
      await editor.click();
      await page.keyboard.press('Control+Z');
      await page.keyboard.press('Control+S');
      const original = readFileSync(join(repo, 'test/fixtures/speech-ko.txt'), 'utf8');
      for (let i = 0; i < 100 && readFileSync(join(session.folder, 'speech-ko.txt'), 'utf8') !== original; i++)
        await page.waitForTimeout(100);
      assert.equal(readFileSync(join(session.folder, 'speech-ko.txt'), 'utf8'), original, 'the insertion is undone on disk');

      // 2. The Tokens view of the Korean file.
      await runCommand('Corpus Lab: Show Tokens');
      const tokens = await webview('#tokens .tok');
      // The byte tokens of each syllable grouped into it (no <0xEB> left), a space as ␣ and the text's own middle dots (3·1운동) as ·:
      // the view spells the file exactly.
      const spelled = (await tokens.locator('#tokens .tok').allTextContents()).join('');
      assert.equal(spelled, original.replace(/ /g, '␣').replace(/\n/g, '↵\n').replace(/\t/g, '→'));
      assert.ok((await tokens.locator('#tokens .tok.fallback').count()) > 0, 'no syllable made of several byte tokens');
      await shot('05-tokens');

      // 3. Attention of a long line (the context's 32 tokens): a layer × head grid, one head enlarged, values on hover.
      await editor.click();
      await page.keyboard.press('Control+Home');
      for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowDown');
      await runCommand('Corpus Lab: Show Attention of the Line or Selection');
      const att = await webview('#grid canvas');
      assert.equal(await att.locator('#grid canvas').count(), 4);
      await page.waitForTimeout(500);
      await shot('06-attention-grid');
      await att.locator('#grid canvas[data-layer="1"][data-head="0"]').click();
      await att.locator('#enlarged').waitFor({ state: 'visible' });
      const cells = att.locator('#enlarged td.cell');
      const n = await att.locator('#enlarged th.query').count();
      assert.equal(await cells.count(), (n * (n + 1)) / 2);
      const cell = cells.nth(3);
      await cell.hover();
      assert.match(await cell.getAttribute('title'), /→ .*: \d\.\d{4}$/);
      // The enlarged head scrolls in its own box: the panel itself is no wider than its window.
      const overflow = await att
        .locator('#enlarged')
        .evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, `the enlarged head overflows the panel by ${overflow} px`);
      // Byte tokens are labelled with the syllable they spell and their place in it (대 1/3), not <0xEB>.
      const queries = (await att.locator('#enlarged th.query').allInnerTexts()).join(' ');
      assert.doesNotMatch(queries, /<0x/, queries);
      assert.match(queries, /[가-힣] 1\/[23]/, queries);
      await shot('07-attention-head');

      // 4. Surprisal of the Korean document: GLTR rank colours in the editor, the legend-histogram, bits per character, copying.
      await editor.click();
      await runCommand('Corpus Lab: Colour Document by Surprisal');
      const sur = await webview('#histogram');
      assert.equal(await sur.locator('#histogram tr').count(), 4);
      assert.match(
        await sur.locator('.summary').innerText(),
        /speech-ko\.txt: [\d,]+ tokens, [\d,]+ characters · \d+\.\d{3} bits per character/,
      );
      // The document is the training text itself: the stretch found verbatim is long.
      const copied = await sur.locator('#copied h3').innerText();
      assert.ok(Number(copied.match(/: (\d+) characters/)[1]) > 100, copied);
      // Every scored token is coloured: the four GLTR backgrounds appear in the editor.
      const colours = await page.evaluate(() => {
        const seen = new Set();
        for (const e of document.querySelectorAll('.view-overlays div, .view-line span')) {
          const bg = getComputedStyle(e).backgroundColor;
          if (/^rgba\((76, 175, 80|255, 213, 0|244, 67, 54|156, 39, 176), 0\.\d+\)$/.test(bg)) seen.add(bg);
        }
        return [...seen];
      });
      assert.ok(colours.length >= 2, `GLTR colours in the editor: ${colours}`);
      await shot('08-surprisal-rank');
      await sur.locator('#mode-bits').click();
      await sur.locator('#histogram tr').nth(4).waitFor({ state: 'visible', timeout: 10_000 });
      assert.equal(await sur.locator('#histogram tr').count(), 5);
      await shot('09-surprisal-bits');

      // 5. The loss chart in bits per character, with the baselines to beat.
      await runCommand('Corpus Lab: Open Loss Chart');
      const chart = await webview('#loss-unit');
      await chart.locator('#loss-unit').selectOption('bpc');
      await chart.locator('#baselines li').first().waitFor({ state: 'visible', timeout: 10_000 });
      // ln |V|, at initialisation, character frequencies; gzip is left out on under 32 KiB of held-out text, and says so.
      assert.equal(await chart.locator('#baselines li').count(), 3);
      assert.match(await chart.locator('#baselines').innerText(), /three bytes/);
      assert.match(await chart.locator('#gzip-left-out').innerText(), /32 ?KiB/);
      assert.doesNotMatch(await chart.locator('#loss-chart .u-legend').innerText(), /gzip -9/);
      await page.waitForTimeout(500);
      await shot('10-loss-chart-bits-per-char');
    });
  },
);
