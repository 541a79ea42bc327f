// End to end, as a user (issue 20): open a Qwen2-family folder with a ChatML template → the Explorer
// offers Fine-tune on a folder of documents and on a .jsonl → right-click the Korean Q&A .jsonl →
// the measured pick → Full fine-tuning → the Loss chart shows the first example as the model sees
// it (the answer highlighted, the prompt dimmed, whitespace visible) with the counts, then training
// finishes. Screenshots go to test-artifacts/e2e/finetune-data/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withSession } from './session.mjs';

test(
  'open a Qwen2 folder → right-click a .jsonl → Fine-tune → the first example, trained tokens marked, before training',
  { timeout: 600_000 },
  async () => {
    const prepare = (folder) => {
      const model = join(folder, 'models', 'qwen2-chatml');
      cpSync(join(folder, 'hf-llama', 'qwen2'), model, { recursive: true });
      copyFileSync(join(folder, 'sft', 'chatml.jinja'), join(model, 'chat_template.jinja'));
      mkdirSync(join(folder, 'documents'));
      writeFileSync(join(folder, 'documents', 'speech.md'), readFileSync(join(folder, 'speech-ko.txt'), 'utf8'));
    };
    const settings = { 'corpusLab.training.maxSteps': 6, 'files.simpleDialog.enable': true };
    await withSession('finetune-data', { prepare, settings }, async (session) => {
      const { page, shot, folder, runCommand, explorerRow } = session;
      const contextEntry = (text) => page.locator('.context-view .action-label', { hasText: text });
      const rows = page.locator('.quick-input-list .monaco-list-row');
      await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'visible', timeout: 60_000 });

      // 1. The Qwen2 folder becomes the active model (Open Hugging Face Model Folder…, the simple dialog).
      await runCommand('Corpus Lab: Open Hugging Face Model Folder…');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 20_000 });
      await page.waitForFunction(() => document.querySelector('.quick-input-widget input')?.value.length > 0, null, { timeout: 20_000 });
      await page.waitForTimeout(300);
      await input.press('Control+a');
      await input.pressSequentially(`${join(folder, 'models', 'qwen2-chatml')}/`, { delay: 5 });
      await page.waitForTimeout(800);
      for (let i = 0; i < 3 && (await page.locator('.quick-input-widget').isVisible()); i++) {
        await page.locator('.quick-input-widget .monaco-button', { hasText: 'Open Model' }).click();
        await page
          .locator('.quick-input-widget')
          .waitFor({ state: 'hidden', timeout: 5_000 })
          .catch(() => undefined);
      }
      await page
        .locator('.notification-toast', { hasText: 'qwen2-chatml is now the active model' })
        .waitFor({ state: 'visible', timeout: 60_000 });

      // 2. A folder of documents offers Fine-tune and Train under folder titles (and not the text-file entries).
      await explorerRow('documents').click({ button: 'right' });
      await contextEntry('Fine-tune Active Model on This Folder').waitFor({ state: 'visible', timeout: 20_000 });
      await contextEntry('Train Model on This Folder').waitFor({ state: 'visible', timeout: 5_000 });
      assert.equal(await contextEntry('on This File').count(), 0, 'a folder is not "This File"');
      assert.equal(await contextEntry('Tokenize Document').count(), 0, 'a folder is no document to tokenize');
      await shot('01-folder-menu');
      await page.keyboard.press('Escape');

      // 3. Right-click the .jsonl → Fine-tune → the measured pick → Full fine-tuning.
      await explorerRow('sft').click();
      const jsonl = explorerRow('constitution-qa-ko.jsonl');
      await jsonl.waitFor({ state: 'visible', timeout: 20_000 });
      await jsonl.click({ button: 'right' });
      const entry = contextEntry('Fine-tune Active Model on This File');
      await entry.waitFor({ state: 'visible', timeout: 20_000 });
      await shot('02-jsonl-menu');
      await page.waitForTimeout(400);
      await entry.click();
      const full = rows.filter({ hasText: /Full fine-tuning[\s\S]*per epoch/ });
      await full.waitFor({ state: 'visible', timeout: 120_000 });
      await shot('03-measured-pick');
      await full.click();

      // 4. The Loss chart shows the first example with the answer highlighted, before training ends.
      const chart = await session.webviewWith('.data-preview .trained', 120_000);
      const trained = await chart.locator('.data-preview .trained').allInnerTexts();
      const masked = await chart.locator('.data-preview .masked').allInnerTexts();
      assert.equal(trained.length, 1, trained.join(' | '));
      assert.match(trained[0], /<\|im_end\|>↵/);
      assert.match(masked[0], /^<\|im_start\|>system↵/);
      assert.match(masked[0], /<\|im_start\|>assistant↵/);
      assert.match(await chart.locator('.data-preview .preview-counts').innerText(), /100 examples, 10 held out · [\d,]+ tokens trained/);
      await shot('04-first-example');
      await page.locator('.notification-toast', { hasText: 'Training finished' }).waitFor({ state: 'visible', timeout: 240_000 });
      await page.waitForTimeout(1500);
      await shot('05-finished');
      assert.ok(await chart.locator('.data-preview .trained').count(), 'the example stays on the chart of its run');
    });
  },
);
