// End to end in Korean, a Llama-style model (issue 19): the preset pick's Llama Tiny row (its
// description and its own estimate), training with progress and the loss chart, ghost text in
// Korean, the Attention grid with each head's key/value head, Next Token's logit lens, Surprisal,
// and the GPT-2 block vs Llama block experiment in the Compare panel.
// Screenshots go to test-artifacts/e2e/llama-ko/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSession } from './session.mjs';

test(
  'Korean UI, Llama Tiny: preset pick → training → loss chart → GPT-2 block vs Llama block → ghost text → Attention by kv group → Next Token lens → Surprisal',
  { timeout: 600_000 },
  async () => {
    await withSession('llama-ko', { locale: 'ko', settings: { 'corpusLab.training.maxSteps': 80 } }, async (session) => {
      const { page, shot, explorerRow, runCommand } = session;
      const webview = (selector) => session.webviewWith(selector, 60_000);
      const rows = page.locator('.quick-input-list .monaco-list-row');
      await page.locator('.statusbar-item', { hasText: '모델 없음' }).waitFor({ state: 'visible', timeout: 60_000 });
      await explorerRow('speech-ko.txt').waitFor({ state: 'visible', timeout: 60_000 });

      // The preset pick: Llama Tiny says what its blocks are, and has its own measured plan.
      await explorerRow('speech-ko.txt').click({ button: 'right' });
      const train = page.locator('.context-view .action-label', { hasText: '이 파일로 모델 학습' });
      await train.waitFor({ state: 'visible', timeout: 20_000 });
      await page.waitForTimeout(500);
      await session.chooseMenuEntry(train);
      const llama = rows.filter({ hasText: /Llama Tiny.*RoPE · RMSNorm · SwiGLU · 그룹 쿼리 어텐션 · 4층 · 폭 128/s });
      await llama.filter({ hasText: /\d+단계 = [\d.]+에포크.*매개변수/s }).waitFor({ state: 'visible', timeout: 120_000 });
      await rows.filter({ hasText: 'Llama Small' }).waitFor({ state: 'visible' });
      await shot('01-preset-pick');
      await llama.first().click();

      await page.locator('.notification-toast', { hasText: /단계 \d+\/80/ }).waitFor({ state: 'visible', timeout: 90_000 });
      await shot('02-progress');
      await page.locator('.notification-toast', { hasText: '학습 완료' }).waitFor({ state: 'visible', timeout: 240_000 });
      const chart = await webview('#loss-chart canvas');
      await chart.locator('#loss-chart canvas').first().waitFor({ state: 'visible', timeout: 60_000 });
      assert.match(await chart.locator('#loss-chart .u-legend').innerText(), /학습 손실/);
      await shot('03-loss-chart');

      // GPT-2 block vs Llama block from the run's right-click menu: the twin trains, then the Compare
      // panel's settings show the blocks (and with them the norm and the biases) of each run.
      const runRow = page.locator('.pane-body .monaco-list-row', { hasText: /speech-ko.*검증 \d/ }).first();
      // The activity bar's icon toggles its side bar: clicked again when the first click hid it.
      for (let i = 0; i < 2 && !(await runRow.isVisible()); i++) {
        await page.locator('.activitybar .action-item a[aria-label*="Corpus Lab"]').click();
        await runRow.waitFor({ state: 'visible', timeout: 5_000 }).catch(() => {});
      }
      await runRow.waitFor({ state: 'visible', timeout: 20_000 });
      await runRow.click({ button: 'right' });
      const experiment = page.locator('.context-view .action-label', { hasText: '실험: GPT-2 블록 대 Llama 블록' });
      await experiment.waitFor({ state: 'visible', timeout: 20_000 });
      await shot('04-run-menu');
      await session.chooseMenuEntry(experiment);
      const compare = await session.webviewWith('#settings-table', 300_000);
      const settings = await compare.locator('#settings-table').innerText();
      assert.match(settings, /블록\s+Llama\s+GPT-2/, settings);
      assert.match(settings, /정규화\s+rmsnorm\s+layernorm/, settings);
      assert.match(settings, /편향\s+없음\s+있음/, settings);
      await compare.locator('#compare-chart canvas').first().waitFor({ state: 'visible', timeout: 30_000 });
      await shot('05-compare-blocks');

      // Ghost text continues the Korean file. Quick Open is opened from the title bar's command
      // centre, not by a key (the Compare page is a webview, and a key pressed there can stay there),
      // and Enter waits for the file's row to be the one selected.
      await page.locator('.command-center .search-label, .command-center-center').first().click();
      await page.locator('.quick-input-widget').waitFor({ state: 'visible', timeout: 20_000 });
      await page.keyboard.type('speech-ko.txt', { delay: 10 });
      await rows.filter({ hasText: 'speech-ko.txt' }).first().waitFor({ state: 'visible', timeout: 20_000 });
      await page
        .locator('.quick-input-list .monaco-list-row.focused', { hasText: 'speech-ko.txt' })
        .waitFor({ state: 'visible', timeout: 20_000 });
      await page.keyboard.press('Enter');
      await page.locator('.tabs-container .tab.active', { hasText: 'speech-ko.txt' }).waitFor({ state: 'visible', timeout: 20_000 });
      const ghost = await session.typeAtEnd('대한민국의 주권은');
      await ghost.waitFor({ state: 'visible', timeout: 60_000 });
      assert.match(await ghost.innerText(), /\p{Script=Hangul}/u);
      await shot('06-ghost-text');
      await page.keyboard.press('Escape');

      // Attention of the line: 4 layers × 4 heads, each head named with the key/value head it reads.
      await runCommand('Corpus Lab: 현재 줄 또는 선택 영역의 어텐션 보기');
      const att = await webview('#grid canvas');
      assert.equal(await att.locator('#grid canvas').count(), 16);
      assert.deepEqual(await att.locator('#grid .layer[data-layer="0"] .col-label').allInnerTexts(), [
        '헤드 0 · kv 0',
        '헤드 1 · kv 0',
        '헤드 2 · kv 1',
        '헤드 3 · kv 1',
      ]);
      assert.match(await att.locator('.legend').innerText(), /그룹 쿼리 어텐션: 쿼리 헤드 2개가/);
      await shot('07-attention-grid');
      await att.locator('#grid canvas[data-layer="3"][data-head="3"]').click();
      await att.locator('#enlarged').waitFor({ state: 'visible' });
      assert.match(await att.locator('.title').innerText(), /헤드 3 · kv 1/);
      await shot('08-attention-head');

      // Next Token at the cursor, with the logit lens: the embeddings and the 4 layers.
      await page.locator('.editor-instance .monaco-editor').first().click();
      await page.keyboard.press('Control+End');
      await runCommand('Corpus Lab: 다음 토큰 후보 보기');
      const next = await webview('#candidates');
      await next.locator('#lens summary').click();
      assert.equal(await next.locator('#lens tr').count(), 5);
      await shot('09-next-token-lens');

      // Surprisal of the document.
      await page.locator('.editor-instance .monaco-editor').first().click();
      await runCommand('Corpus Lab: 문서를 서프라이절(예측 난이도)로 색칠하기');
      const sur = await webview('#histogram');
      assert.match(await sur.locator('.summary').innerText(), /speech-ko\.txt/);
      await shot('10-surprisal');
    });
  },
);
