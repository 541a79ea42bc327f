// End to end in Korean: VS Code's display language is ko (see setDisplayLanguage), so Corpus Lab
// shows its Korean strings: context menu, refusal of an empty file, the preset pick (particles
// chosen for the file name), progress, the loss chart and its data table, the Runs view.
// Screenshots go to test-artifacts/e2e/ko/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withSession } from './session.mjs';

test('Korean UI: empty file refused, preset pick, training, loss chart and table, Runs view', { timeout: 600_000 }, async () => {
  // The empty file is there before code-server opens the folder: a file written later reaches the
  // explorer only through the file watcher, which a busy machine can leave unseen for longer than a test waits.
  const prepare = (folder) => writeFileSync(join(folder, 'empty.txt'), '');
  await withSession('ko', { locale: 'ko', prepare, settings: { 'corpusLab.training.maxSteps': 40 } }, async (session) => {
    const { page, shot, explorerRow } = session;
    const rows = page.locator('.quick-input-list .monaco-list-row');
    await page.locator('.statusbar-item', { hasText: '모델 없음' }).waitFor({ state: 'visible', timeout: 60_000 });
    await explorerRow('speech-ko.txt').waitFor({ state: 'visible', timeout: 60_000 });
    await shot('01-explorer');

    // An empty file: refused at once, in Korean, naming the file; no preset pick.
    await explorerRow('empty.txt').click({ button: 'right' });
    const train = page.locator('.context-view .action-label', { hasText: '이 파일로 모델 학습' });
    await train.waitFor({ state: 'visible', timeout: 20_000 });
    await shot('02-context-menu');
    await session.chooseMenuEntry(train);
    await page
      .locator('.notification-toast', { hasText: 'empty.txt 파일이 비어 있어서 학습할 내용이 없습니다.' })
      .waitFor({ state: 'visible', timeout: 20_000 });
    assert.equal(await page.locator('.quick-input-widget').isVisible(), false, 'no preset pick for an empty file');
    await page.waitForTimeout(500);
    await shot('03-empty-refused');

    // The preset pick: title with the particle for "speech-ko.txt" (로), the plan in steps, epochs, time.
    await explorerRow('speech-ko.txt').click({ button: 'right' });
    await train.waitFor({ state: 'visible', timeout: 20_000 });
    await page.waitForTimeout(500);
    await session.chooseMenuEntry(train);
    await page.locator('.quick-input-widget', { hasText: 'speech-ko.txt로 모델 학습' }).waitFor({ state: 'visible', timeout: 20_000 });
    await rows.filter({ hasText: /Tiny.*기본값.*\d+단계 = [\d.]+에포크 약 \d+(초|분)/s }).waitFor({ state: 'visible', timeout: 90_000 });
    for (const label of ['빠른 학습', '사용자 지정…']) await rows.filter({ hasText: label }).waitFor({ state: 'visible' });
    await shot('04-preset-pick');
    const pickText = await page.locator('.quick-input-widget').innerText();
    assert.ok(
      !/\(으\)로|을\(를\)|parameters|memory|epochs|steps/.test(pickText),
      `English or unresolved particles in the pick: ${pickText}`,
    );
    await rows.filter({ hasText: 'Tiny' }).first().click();

    await page.locator('.notification-toast', { hasText: 'speech-ko.txt로 학습 중' }).waitFor({ state: 'visible', timeout: 60_000 });
    await page.locator('.notification-toast', { hasText: /단계 \d+\/40/ }).waitFor({ state: 'visible', timeout: 90_000 });
    await shot('05-progress');
    await page.locator('.notification-toast', { hasText: '학습 완료' }).waitFor({ state: 'visible', timeout: 240_000 });
    await shot('06-finished');

    // The loss chart in Korean, and its data table: Korean headers, tokens/s without decimals.
    const chart = await session.webviewWith('#loss-chart canvas', 60_000);
    await chart.locator('#loss-chart canvas').first().waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await chart.locator('#loss-chart .u-legend').innerText(), /학습 손실/);
    assert.equal(await chart.locator('#smoothing-value').innerText(), '0.60', 'the smoothing slider shows its value');
    // The learning rate rises through warm-up and decays: its axis has several distinct labels.
    const ticks = new Set(((await chart.locator('#lr-chart').getAttribute('data-ticks')) ?? '').split(' ').filter(Boolean));
    assert.ok(ticks.size >= 3, `learning-rate axis labels: ${[...ticks].join(', ')}`);
    await shot('07-loss-chart');
    await chart.locator('#table-toggle').click();
    const head = await chart.locator('#data-table thead').innerText();
    for (const h of ['단계', '에포크', '학습 손실', '검증 손실', '학습률', '토큰/초'])
      assert.ok(head.includes(h), `table header lacks ${h}: ${head}`);
    const cells = await chart.locator('#data-table tbody tr').first().locator('td').allInnerTexts();
    assert.match(cells[5], /^[\d,]+$/, `tokens/s printed as ${cells[5]}`);
    assert.match(cells[2], /^\d+\.\d{4}$/, `loss printed as ${cells[2]}`);
    await shot('08-data-table');

    // The Runs view: short rows with the validation loss in Korean.
    await page.locator('.activitybar .action-item a[aria-label*="Corpus Lab"]').click();
    await page.locator('.pane-body .monaco-list-row', { hasText: /speech-ko.*검증 \d/ }).waitFor({ state: 'visible', timeout: 20_000 });
    // The Tokens view below it has loaded its page and says, in Korean, what it needs (no text editor is open).
    await session.webviewWith('#empty:has-text("토큰을 보려면 텍스트 파일을 여세요.")', 30_000);
    await shot('09-runs-view');
  });
});
