// End to end, issue 15's first broken path: train → cancel → Resume Training. While the resumed run
// trains (and prunes old checkpoints), the editor still gets ghost text and the status bar names a
// checkpoint that exists. Screenshots go to test-artifacts/e2e/resume/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repo, withSession } from './session.mjs';

test(
  'train → cancel → resume: while the resumed run trains, ghost text still comes from a checkpoint that exists',
  { timeout: 600_000 },
  () =>
    withSession(
      'resume',
      {
        vsix: join(repo, 'corpus-lab-linux-x64.vsix'),
        settings: {
          'corpusLab.training.maxSteps': 100_000,
          'corpusLab.completion.debounceMs': 50,
          'corpusLab.completion.temperature': 0,
          'editor.inlineSuggest.enabled': true,
        },
      },
      async (session) => {
        const { page, shot, folder, explorerRow, runCommand } = session;
        await explorerRow('speech-en.txt').waitFor({ state: 'visible', timeout: 60_000 });
        await page.locator('.statusbar-item', { hasText: 'no model' }).waitFor({ state: 'visible', timeout: 60_000 });
        await explorerRow('speech-en.txt').dblclick();
        await page.locator('.editor-instance .monaco-editor').first().waitFor({ state: 'visible' });

        // Train (Tiny), let it run a little, cancel: the checkpoint written on cancel becomes the model.
        await runCommand('Corpus Lab: Train Model on This File');
        const tiny = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Tiny' }).first();
        await tiny.waitFor({ state: 'visible', timeout: 60_000 });
        await page
          .locator('.quick-input-list .monaco-list-row', { hasText: 'parameters' })
          .first()
          .waitFor({ state: 'visible', timeout: 60_000 });
        await tiny.click();
        await page.locator('.notification-toast', { hasText: /step [2-9]\d\// }).waitFor({ state: 'visible', timeout: 120_000 });
        await runCommand('Corpus Lab: Cancel Training');
        await page
          .locator('.notification-toast', { hasText: /Training stopped at step \d+/ })
          .waitFor({ state: 'visible', timeout: 60_000 });
        const model = page.locator('.statusbar-item', { hasText: /speech-en\/(?:step|epoch)-\d+/ });
        await page.locator('.statusbar-item', { hasText: /speech-en\/step-\d+/ }).waitFor({ state: 'visible', timeout: 30_000 });
        const cancelled = /speech-en\/(step-\d+)/.exec(await model.innerText())[1];
        await shot('01-cancelled');

        // Resume the active model's run: it trains on, writes checkpoints and prunes the old ones.
        await runCommand('Corpus Lab: Resume Training');
        await page.locator('.notification-toast', { hasText: /step \d+\// }).waitFor({ state: 'visible', timeout: 120_000 });
        // Long enough for a few checkpoints (one per ~100 steps on this file, or per minute).
        await page.waitForTimeout(20_000);
        await shot('02-resumed');

        // Type while it trains: ghost text comes.
        const ghost = await session.typeAtEnd('First Citizen:', 'We are');
        await ghost.waitFor({ state: 'visible', timeout: 30_000 });
        assert.ok((await ghost.innerText()).trim().length > 0);
        await shot('03-resumed-ghost-text');
        assert.ok(
          await page.locator('.statusbar-item', { hasText: /loss \d/ }).isVisible(),
          'the resumed run is still training while the ghost text shows',
        );
        // The status bar names a checkpoint of this run that is on disk (the cancelled one, or the one
        // the active model moved to when it was pruned).
        const [run, checkpoint] = /(\d{8}-\d{6}-speech-en)\/((?:step|epoch)-\d+)/.exec(await model.innerText()).slice(1);
        assert.ok(
          existsSync(join(folder, '.corpus-lab', 'runs', run, 'checkpoints', checkpoint)),
          `${run}/${checkpoint} (cancelled at ${cancelled}) is on disk`,
        );
      },
    ),
);
