#!/usr/bin/env node
// Stands in for a VS Code executable for @vscode/test-electron's runTests: takes the Electron-style
// arguments it passes, runs the same extension host in code-server (VS Code 1.100.3's server), opens
// the workbench in headless Chromium with the development and test paths in the page URL, prints
// what the extension host logs, and exits with the code the tests report.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const codeServer = join(repo, '.cache/code-server/node_modules/.bin/code-server');
if (!existsSync(codeServer)) {
  console.error('code-server is not installed: run scripts/install-code-server.sh');
  process.exit(1);
}

const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const extensionDevelopmentPath = flag('extensionDevelopmentPath');
const extensionTestsPath = flag('extensionTestsPath');
const work = mkdtempSync(join(tmpdir(), 'corpus-lab-vscode-'));
const userDataDir = flag('user-data-dir') ?? join(work, 'user-data');
const extensionsDir = flag('extensions-dir') ?? join(work, 'extensions');
const folder = args.filter((a) => !a.startsWith('--')).at(-1);
const timeoutMs = Number(process.env.CORPUS_LAB_VSCODE_TIMEOUT_MS ?? 600_000);
for (const d of [userDataDir, extensionsDir]) mkdirSync(d, { recursive: true });

const port = await new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => ok(port));
  });
});

const server = spawn(
  codeServer,
  ['--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', ...(folder ? [folder] : [])],
  { env: { ...process.env, EXTENSIONS_GALLERY: '{}', XDG_CONFIG_HOME: join(work, 'config'), XDG_DATA_HOME: join(work, 'data') }, stdio: ['ignore', 'pipe', 'pipe'] },
);
let serverLog = '';
server.stdout.on('data', (d) => (serverLog += d));
server.stderr.on('data', (d) => (serverLog += d));

async function waitForServer() {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not start:\n${serverLog}`);
}

let exitCode = 1;
let browser;
try {
  await waitForServer();
  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
  const payload = [];
  if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(extensionDevelopmentPath)]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
  const url = `http://127.0.0.1:${port}/?${folder ? `folder=${encodeURIComponent(folder)}&` : ''}payload=${encodeURIComponent(JSON.stringify(payload))}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const done = new Promise((ok) => page.exposeFunction('codeAutomationExit', (code) => ok(code)));
  page.on('console', (m) => {
    const text = m.text();
    if (process.env.CORPUS_LAB_VSCODE_DEBUG) console.error(`[page:${m.type()}] ${text}`);
    // The remote extension host's console reaches the page as "%c INFO color: #33f <text>".
    const host = /^%c INFO color: #33f (.*)$/s.exec(text);
    if (host && host[1].startsWith('[corpus-lab-test] ')) console.log(host[1].slice('[corpus-lab-test] '.length));
  });
  await page.goto(url);
  exitCode = await Promise.race([done, new Promise((ok) => setTimeout(() => ok('timeout'), timeoutMs))]);
  if (exitCode === 'timeout') {
    console.error(`the tests did not finish within ${timeoutMs / 1000} s`);
    exitCode = 1;
  }
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  exitCode = 1;
} finally {
  if (process.env.CORPUS_LAB_VSCODE_DEBUG) console.error(serverLog);
  await browser?.close().catch(() => {});
  server.kill();
}
process.exit(Number(exitCode) || 0);
