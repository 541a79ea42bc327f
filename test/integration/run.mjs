// Runs the integration tests in a real VS Code extension host (code-server, see
// scripts/vscode-test/code-server-launcher.mjs) through @vscode/test-electron's runTests.
import { runTests } from '@vscode/test-electron';
import { mkdtempSync, cpSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const workspace = mkdtempSync(join(tmpdir(), 'corpus-lab-ws-'));
mkdirSync(join(workspace, 'texts'));
cpSync(join(repo, 'test/fixtures'), join(workspace, 'texts'), { recursive: true });
try {
  await runTests({
    vscodeExecutablePath: join(repo, 'scripts/vscode-test/code-server-launcher.mjs'),
    extensionDevelopmentPath: repo,
    extensionTestsPath: join(repo, 'out/test/integration/index'),
    launchArgs: [workspace],
    extensionTestsEnv: { CORPUS_LAB_TEST_WORKSPACE: workspace, CORPUS_LAB_TEST_GREP: process.env.CORPUS_LAB_TEST_GREP ?? '' },
  });
} catch (e) {
  console.error(`integration tests failed: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
