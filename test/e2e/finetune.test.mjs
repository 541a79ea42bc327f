// End to end, as a user: a base run is made active in the Runs view → right-click a file →
// Fine-tune Active Model on This File… (the measured pick) → LoRA → progress, loss chart → the
// LoRA run under its base in the Runs view → Compare Samples (two columns) → Merge → Open Hugging
// Face Model Folder… (a bad folder, then a good one). Screenshots go to test-artifacts/e2e/finetune/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repo, trainWithCli, withSession } from './session.mjs';

test(
  'set a base → right-click → fine-tune (measured pick) → LoRA run under its base → compare samples → merge → open a Hugging Face folder',
  { timeout: 600_000 },
  async () => {
    const prepare = (folder) => {
      writeFileSync(join(folder, 'shakespeare.txt'), readFileSync(join(repo, 'media/samples/shakespeare.txt'), 'utf8').slice(0, 12_000));
      // The base: a small char model trained on the English speech (the CLI, so the test waits less).
      const run = join(folder, '.corpus-lab', 'runs', '20260101-000000-speech-en');
      trainWithCli(
        join(folder, 'speech-en.txt'),
        run,
        '--layers',
        '2',
        '--heads',
        '2',
        '--width',
        '64',
        '--context',
        '64',
        '--max-steps',
        '120',
      );
      // A Hugging Face-layout folder (a checkpoint's model, config and tokenizer, no training state) and a folder that is not one.
      const ckpt = join(run, 'checkpoints', readdirSync(join(run, 'checkpoints')).sort().at(-1));
      const hf = join(folder, 'models', 'gpt2-style');
      mkdirSync(hf, { recursive: true });
      for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) cpSync(join(ckpt, f), join(hf, f));
      mkdirSync(join(folder, 'models', 'pickled'), { recursive: true });
      for (const f of ['config.json', 'tokenizer.json']) cpSync(join(ckpt, f), join(folder, 'models', 'pickled', f));
      writeFileSync(join(folder, 'models', 'pickled', 'pytorch_model.bin'), 'not read');
    };
    const settings = { 'corpusLab.training.maxSteps': 40, 'files.simpleDialog.enable': true };
    await withSession('finetune', { prepare, settings }, async (session) => {
      const { page, shot, folder, runCommand } = session;
      const runsRow = (text) =>
        page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Runs' }) }).locator('.monaco-list-row', { hasText: text });
      const contextEntry = (text) => page.locator('.context-view .action-label', { hasText: text });
      /** Right-click a row, then choose a menu entry once the menu has settled (an early click only hovers). */
      const chooseFromMenu = async (row, text) => {
        await row.click({ button: 'right' });
        const e = contextEntry(text);
        await e.waitFor({ state: 'visible', timeout: 20_000 });
        await page.waitForTimeout(400);
        await e.click();
      };
      await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'visible', timeout: 60_000 });

      // 1. The base run becomes the active model.
      await runCommand('Corpus Lab: Set Active Model');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'speech-en' }).first().click();
      await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'detached', timeout: 20_000 });

      // 2. Right-click shakespeare.txt → Fine-tune Active Model on This File… → the measured pick.
      const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'shakespeare.txt' });
      await row.click({ button: 'right' });
      const entry = contextEntry('Fine-tune Active Model on This File');
      await entry.waitFor({ state: 'visible', timeout: 20_000 });
      await shot('01-context-menu');
      await entry.click();
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'LoRA r=8' }).waitFor({ state: 'visible', timeout: 20_000 });
      await page
        .locator('.quick-input-list .monaco-list-row', { hasText: /Full fine-tuning[\s\S]*trainable parameters/ })
        .waitFor({ state: 'visible', timeout: 120_000 });
      await shot('02-measured-pick');
      const pickText = await page.locator('.quick-input-list').innerText();
      assert.match(pickText, /trainable parameters \(\d+\.\d+% of [\d,]+\)/);
      assert.match(pickText, /per epoch/);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'LoRA r=8' }).click();

      // 3. Train's progress notification and loss chart.
      await page
        .locator('.notification-toast', { hasText: /Fine-tuning .* on shakespeare\.txt \(LoRA r=8\)/ })
        .waitFor({ state: 'visible', timeout: 60_000 });
      await page.locator('.notification-toast', { hasText: /step \d+\/40/ }).waitFor({ state: 'visible', timeout: 60_000 });
      await shot('03-progress');
      await page.locator('.notification-toast', { hasText: 'Training finished' }).waitFor({ state: 'visible', timeout: 240_000 });
      await page.waitForTimeout(1500);
      await shot('04-finished-loss-chart');

      // 4. The Runs view: the LoRA run under its base; its context menu.
      await page.locator('.activitybar .action-item a[aria-label^="Corpus Lab"]').click();
      // The Runs view shows a run as its corpus name, with its start time in the description.
      const baseRow = runsRow(/speech-en[\s\S]*01-01 00:00/);
      await baseRow.waitFor({ state: 'visible', timeout: 20_000 });
      // A click on a run opens its loss chart; its twistie expands it.
      if ((await baseRow.getAttribute('aria-expanded')) !== 'true') await baseRow.locator('.monaco-tl-twistie').click();
      const loraRow = runsRow(/LoRA r=8 on/);
      await loraRow.waitFor({ state: 'visible', timeout: 20_000 });
      await shot('05-runs-view');
      await loraRow.click({ button: 'right' });
      await contextEntry('Compare Samples with the Base Model').waitFor({ state: 'visible', timeout: 20_000 });
      assert.ok(await contextEntry('Merge LoRA Adapter into Its Base').isVisible());
      assert.ok(await contextEntry('Quantize to int8').isVisible());
      await shot('06-run-context-menu');

      // 5. Compare Samples: the prompt box, then two columns.
      await page.waitForTimeout(400);
      await contextEntry('Compare Samples with the Base Model').click();
      await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 20_000 });
      await page.keyboard.press('Enter');
      await page.locator('.tab', { hasText: /Preview/ }).waitFor({ state: 'visible', timeout: 60_000 });
      await page.waitForTimeout(1500);
      await shot('07-compare-samples');

      // 6. Merge: a merged model under the run.
      await chooseFromMenu(loraRow, 'Merge LoRA Adapter into Its Base');
      await page.locator('.notification-toast', { hasText: /Merged \d+ LoRA layer/ }).waitFor({ state: 'visible', timeout: 60_000 });
      if ((await loraRow.getAttribute('aria-expanded')) !== 'true') await loraRow.locator('.monaco-tl-twistie').click();
      await runsRow(/-merged/).waitFor({ state: 'visible', timeout: 20_000 });
      await shot('08-merged');

      // 7. Open Hugging Face Model Folder…: a folder with only a pickle is refused; a good one becomes active.
      const openFolder = async (path) => {
        await runCommand('Corpus Lab: Open Hugging Face Model Folder…');
        const input = page.locator('.quick-input-widget input');
        await input.waitFor({ state: 'visible', timeout: 20_000 });
        // The simple dialog fills in its starting folder a moment after it opens: replace it once it has.
        await page.waitForFunction(() => document.querySelector('.quick-input-widget input')?.value.length > 0, null, { timeout: 20_000 });
        await page.waitForTimeout(300);
        await input.press('Control+a');
        await input.pressSequentially(`${path}/`, { delay: 5 });
        await page.waitForTimeout(800);
        // The simple dialog sometimes takes the first click as leaving the path field: click until it closes.
        for (let i = 0; i < 3 && (await page.locator('.quick-input-widget').isVisible()); i++) {
          await page.locator('.quick-input-widget .monaco-button', { hasText: 'Open Model' }).click();
          await page
            .locator('.quick-input-widget')
            .waitFor({ state: 'hidden', timeout: 5_000 })
            .catch(() => undefined);
        }
      };
      await openFolder(join(folder, 'models', 'pickled'));
      await page.locator('.notification-toast', { hasText: 'has only pytorch_model.bin' }).waitFor({ state: 'visible', timeout: 30_000 });
      await shot('09-bad-folder');
      await openFolder(join(folder, 'models', 'gpt2-style'));
      await page
        .locator('.notification-toast', { hasText: 'gpt2-style is now the active model' })
        .waitFor({ state: 'visible', timeout: 60_000 });
      await runsRow('gpt2-style').waitFor({ state: 'visible', timeout: 20_000 });
      await shot('10-hf-folder-active');
    });
  },
);
