#!/usr/bin/env node
// Stands in for a VS Code executable for @vscode/test-electron's runTests: takes the Electron-style
// arguments it passes, runs the same extension host in code-server, opens the workbench in headless
// Chromium with the development and test paths in the page URL, prints the test report the
// extension host logs, and exits with the code the tests report.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeServerHome, launchChromium, startCodeServer } from './code-server.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const extensionDevelopmentPath = flag('extensionDevelopmentPath');
const extensionTestsPath = flag('extensionTestsPath');
const folder = args.filter((a) => !a.startsWith('--')).at(-1);
const timeoutMs = Number(process.env.CORPUS_LAB_VSCODE_TIMEOUT_MS ?? 600_000);
const debug = Boolean(process.env.CORPUS_LAB_VSCODE_DEBUG);

let exitCode = 1;
let browser;
let server;
try {
  server = await startCodeServer(repo, codeServerHome(flag('user-data-dir'), flag('extensions-dir')), folder);
  const remote = (p) => `vscode-remote://127.0.0.1:${server.port}${p}`;
  const payload = [];
  if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(extensionDevelopmentPath)]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
  const url = `http://127.0.0.1:${server.port}/?${folder ? `folder=${encodeURIComponent(folder)}&` : ''}payload=${encodeURIComponent(JSON.stringify(payload))}`;
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const done = new Promise((ok) => page.exposeFunction('codeAutomationExit', (code) => ok(code)));
  page.on('console', (m) => {
    const text = m.text();
    if (debug) console.error(`[page:${m.type()}] ${text}`);
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
  if (debug && server) console.error(server.log());
  await browser?.close().catch(() => {});
  server?.stop();
}
process.exit(Number(exitCode) || 0);
