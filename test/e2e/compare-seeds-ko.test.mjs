// End to end in Korean: Compare Runs… on GPT-2-block and Llama-block runs, two seeds each → the
// seed groups and the verdict name each group by its settings as the settings table shows them
// (블록 Llama · 정규화 rmsnorm · 편향 없음), never by raw keys and values (bias=false).
// Screenshots go to test-artifacts/e2e/compare-seeds-ko/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { trainWithCli, withSession } from './session.mjs';

const RUNS = [
  ['gpt2-seed1', 'gpt2', '1'],
  ['gpt2-seed2', 'gpt2', '2'],
  ['llama-seed1', 'llama', '1'],
  ['llama-seed2', 'llama', '2'],
];

test(
  'Korean UI: Compare Runs on GPT-2 and Llama blocks, two seeds each → the verdict names the groups in Korean',
  { timeout: 600_000 },
  () =>
    withSession('compare-seeds-ko', { locale: 'ko', settings: { 'corpusLab.completion.enabled': false } }, async (session) => {
      const { page, shot, folder } = session;
      const rows = page.locator('.quick-input-list .monaco-list-row');
      for (const [name, arch, seed] of RUNS)
        trainWithCli(
          join(folder, 'speech-ko.txt'),
          join(folder, '.corpus-lab', 'runs', name),
          ...['--layers', '2', '--heads', '2', '--width', '64', '--context', '32', '--max-steps', '100'],
          ...['--arch', arch, '--seed', seed],
        );
      await page.locator('.statusbar-item', { hasText: '모델 없음' }).waitFor({ state: 'visible', timeout: 60_000 });

      await session.runCommand('Corpus Lab: Compare Runs…', 'Corpus Lab: 학습 비교…');
      await rows.filter({ hasText: 'llama-seed2' }).waitFor({ state: 'visible', timeout: 20_000 });
      for (const [name] of RUNS) await rows.filter({ hasText: name }).first().click();
      await shot('01-pick-runs');
      await page.keyboard.press('Enter');

      const compare = await session.webviewWith('.verdict', 60_000);
      const settings = await compare.locator('#settings-table').innerText();
      assert.match(settings, /편향(\s+(있음|없음)){4}/, settings);
      const gpt2 = '블록 GPT-2 · 정규화 layernorm · 편향 있음';
      const llama = '블록 Llama · 정규화 rmsnorm · 편향 없음';
      const groups = (await compare.locator('#seeds li').allInnerTexts()).sort();
      assert.equal(groups.length, 2, groups.join('\n'));
      assert.ok(groups[0].startsWith(`${gpt2}: 시드 `), groups[0]);
      assert.ok(groups[1].startsWith(`${llama}: 시드 `), groups[1]);
      assert.equal(await compare.locator('.did-not-learn').count(), 0, 'the runs learn: their verdict means something');
      const verdict = (await compare.locator('.verdict strong').innerText()).trim();
      assert.ok([`${gpt2} / ${llama}:`, `${llama} / ${gpt2}:`].includes(verdict), verdict);
      await compare.locator('#seeds').scrollIntoViewIfNeeded();
      await shot('02-verdict');
    }),
);
