// End to end in Korean: Compare Runs… on two runs (a Korean and an English model) → the Compare
// panel (curves against tokens seen, differing settings, results, the vocabulary note, samples
// side by side) → Open in Loss Chart (an overlay with its vocabulary note) → a second overlay →
// reload keeps both. Screenshots go to test-artifacts/e2e/compare-ko/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { trainWithCli, withSession } from './session.mjs';
import { overflows, tickLabelProblems, wordsSplit } from './layout.mjs';

/** A small run of the text `text` in the workspace, named `name`: past 100,000 tokens seen, so the chart's x labels are long. */
function cliRun(folder, name, text, ...flags) {
  trainWithCli(
    join(folder, text),
    join(folder, '.corpus-lab', 'runs', name),
    ...['--layers', '1', '--heads', '2', '--width', '32', '--context', '32', '--batch', '64', '--max-steps', '60', '--seed', '1'],
    ...flags,
  );
}

test(
  'Korean UI: Compare Runs on two runs → panel with samples → loss chart overlays with the vocabulary note → reload keeps them',
  { timeout: 600_000 },
  () =>
    withSession('compare-ko', { locale: 'ko', settings: { 'corpusLab.completion.enabled': false } }, async (session) => {
      const { page, shot, folder } = session;
      const rows = page.locator('.quick-input-list .monaco-list-row');
      cliRun(folder, 'ko-layernorm', 'speech-ko.txt');
      cliRun(folder, 'ko-dyt', 'speech-ko.txt', '--norm', 'dyt');
      cliRun(folder, 'en-layernorm', 'speech-en.txt');
      await page.locator('.statusbar-item', { hasText: '모델 없음' }).waitFor({ state: 'visible', timeout: 60_000 });

      // Compare Runs… from the palette (VS Code also matches the English title in a Korean UI): pick two runs.
      await session.runCommand('Corpus Lab: Compare Runs…', 'Corpus Lab: 학습 비교…');
      await rows.filter({ hasText: 'en-layernorm' }).waitFor({ state: 'visible', timeout: 20_000 });
      assert.equal(await page.locator('.quick-input-widget input.input').first().getAttribute('placeholder'), '학습을 2~4개 고르세요');
      for (const name of ['ko-layernorm', 'en-layernorm']) await rows.filter({ hasText: name }).first().click();
      await shot('01-pick-runs');
      await page.keyboard.press('Enter');

      const compare = await session.webviewWith('#metrics-table', 60_000);
      await compare.locator('#compare-chart canvas').first().waitFor({ state: 'visible', timeout: 30_000 });
      const text = await compare.locator('#app').innerText();
      for (const s of ['학습 비교', '다른 설정', '결과', '최저 검증 손실 (비트/문자)', '토큰/초', '시드', '샘플 (같은 프롬프트와 시드)'])
        assert.ok(text.includes(s), `the panel lacks "${s}": ${text.slice(0, 600)}`);
      assert.ok((await compare.locator('#vocabulary-note').innerText()).includes('토크나이저나 어휘가 다릅니다'));
      const settings = await compare.locator('#settings-table').innerText();
      // Each differing setting named in Korean (its key on hover), and only those that differ.
      assert.match(settings, /말뭉치\s+speech-ko\.txt/);
      assert.match(settings, /어휘 크기/);
      assert.doesNotMatch(settings, /vocabSize|corpus/, 'setting keys shown raw');
      assert.doesNotMatch(settings, /정규화|시드/, 'only settings that differ');
      // Samples: the prompt (underlined) and each model's continuation, side by side.
      await compare.locator('.sample pre .prompt').nth(1).waitFor({ state: 'visible', timeout: 60_000 });
      const samples = await compare.locator('.sample pre').allInnerTexts();
      assert.equal(samples.length, 2);
      await compare.locator('#samples').scrollIntoViewIfNeeded();
      await shot('02-compare-panel');
      await compare.locator('h2').evaluate(() => window.scrollTo(0, 0));
      await shot('03-compare-panel-top');

      // At every editor width from about half the window up: the x tick labels never run together,
      // Korean column titles wrap between words only, and no table is cut at the panel's edge.
      let shownWidth = await compare.evaluate(() => window.innerWidth);
      for (let width = 900; width <= 1500; width += 20) {
        await page.setViewportSize({ width, height: 950 });
        // The panel resized, and drew its chart again at its new width.
        await compare.waitForFunction((before) => window.innerWidth !== before, shownWidth);
        shownWidth = await compare.evaluate(() => window.innerWidth);
        await compare.waitForFunction(
          () =>
            document.querySelector('#compare-chart .uplot')?.offsetWidth === Math.max(320, document.getElementById('app').clientWidth - 16),
        );
        await checkLayout(compare, `at a window ${width} px wide`);
        if (width === 900) await shot('03b-compare-panel-900');
      }

      // Open in Loss Chart: the first run with the other as an overlay, and the note in nats per token.
      await compare.locator('#open-chart').click();
      const chart = await session.webviewWith('#overlays', 60_000);
      await chart.locator('#loss-chart canvas').first().waitFor({ state: 'visible', timeout: 30_000 });
      // Side by side, each at half the editor: the Compare panel still fits, and the chart's tick
      // labels are whole (tokens/s past 10,000 was cut to "0,000").
      await page.waitForTimeout(1000);
      await checkLayout(compare, 'beside the loss chart');
      assert.deepEqual(await tickLabelProblems(chart, 'body'), []);
      assert.match(await chart.locator('.vocabulary-note').innerText(), /en-layernorm: 토크나이저나 어휘가 다른 학습/);
      await chart.locator('#compare').click();
      await rows.filter({ hasText: 'ko-dyt' }).first().click();
      await chart.locator('#loss-chart .u-legend', { hasText: 'ko-dyt' }).waitFor({ state: 'visible', timeout: 20_000 });
      assert.equal(await chart.locator('.overlay').count(), 2);
      assert.equal(await chart.locator('.vocabulary-note').count(), 1, 'ko-dyt shares the vocabulary: no note');
      await shot('04-chart-two-overlays');
      // In bits per character the runs compare: no note.
      await chart.locator('#loss-unit').selectOption('bpc');
      assert.equal(await chart.locator('.vocabulary-note').count(), 0);
      await shot('05-chart-bits-per-char');

      // In one editor group: after the reload VS Code revives the panel shown, and the other when
      // its tab is clicked. (Two panels side by side start their pages at once after a reload, and
      // code-server can leave one blank for good, whatever the extension does.)
      await session.runCommand('View: Join All Editor Groups');
      await session.reloadWindow();
      // The Compare panel comes back on the same two runs…
      await page.locator('.tabs-container .tab', { hasText: '비교: 학습 2개' }).click();
      const comparedAgain = await session.webviewWith('#settings-table', 60_000);
      await comparedAgain.locator('#compare-chart canvas').first().waitFor({ state: 'visible', timeout: 30_000 });
      const results = await comparedAgain.locator('#metrics-table').innerText();
      assert.ok(results.includes('ko-layernorm') && results.includes('en-layernorm'), `Compare after reload: ${results}`);
      // …and the loss chart with its overlays.
      await page.locator('.tabs-container .tab', { hasText: '손실: ko-layernorm' }).click();
      const restored = await session.webviewWith('#overlays', 60_000);
      await restored.locator('#loss-chart canvas').first().waitFor({ state: 'visible', timeout: 30_000 });
      const legend = await restored.locator('#overlays').innerText();
      assert.ok(legend.includes('en-layernorm') && legend.includes('ko-dyt'), `overlays after reload: ${legend}`);
      await shot('06-chart-reloaded');
    }),
);

/** The Compare panel's layout, as a user would see it broken. */
async function checkLayout(compare, where) {
  assert.deepEqual(await tickLabelProblems(compare, '#compare-chart'), [], where);
  assert.deepEqual(await wordsSplit(compare, 'thead th'), [], `column titles broken inside a word ${where}`);
  assert.deepEqual(await overflows(compare), { page: 0, tables: [0, 0] }, `cut at the panel's edge ${where}`);
}
