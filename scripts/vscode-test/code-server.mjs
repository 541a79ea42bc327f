// Shared by the integration launcher and the end-to-end test: code-server (VS Code 1.100.3's server,
// installed into .cache by scripts/install-code-server.sh) on a free loopback port, and Debian's
// Chromium with the flags this closed network needs.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';

export function codeServerBin(repo) {
  const bin = join(repo, '.cache/code-server/node_modules/.bin/code-server');
  if (!existsSync(bin)) throw new Error('code-server is not installed: run scripts/install-code-server.sh');
  return bin;
}

/** Throw-away folders and environment for one code-server. */
export function codeServerHome(userDataDir, extensionsDir) {
  const work = mkdtempSync(join(tmpdir(), 'corpus-lab-vscode-'));
  const dirs = { userDataDir: userDataDir ?? join(work, 'user-data'), extensionsDir: extensionsDir ?? join(work, 'extensions') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  mkdirSync(join(dirs.userDataDir, 'User'), { recursive: true });
  const env = { ...process.env, EXTENSIONS_GALLERY: '{}', XDG_CONFIG_HOME: join(work, 'config'), XDG_DATA_HOME: join(work, 'data') };
  return { ...dirs, env };
}

/**
 * Sets VS Code's display language to `locale` as its Configure Display Language command does: in
 * argv.json, which code-server reads each time the window loads, so a reload changes it. The
 * marketplace's language pack cannot be downloaded here: VS Code reads installed packs from
 * languagepacks.json in the user data folder; this one lists a pack with no translations of VS
 * Code's own strings, so the workbench stays English while extensions (ours) get their
 * package.nls.<locale>.json and l10n bundle — exactly what a user with the real pack sees from
 * Corpus Lab. English needs no pack.
 */
export function setDisplayLanguage(home, locale) {
  writeFileSync(join(home.userDataDir, 'User', 'argv.json'), JSON.stringify({ locale }));
  if (locale === 'en') return;
  const pack = join(home.userDataDir, 'test-language-pack');
  mkdirSync(pack, { recursive: true });
  const translations = join(pack, 'main.i18n.json');
  writeFileSync(translations, JSON.stringify({ version: '1.0.0', contents: {} }));
  writeFileSync(
    join(home.userDataDir, 'languagepacks.json'),
    JSON.stringify({
      [locale]: {
        hash: `test-${locale}`,
        extensions: [{ extensionIdentifier: { id: `corpus-lab-test.language-pack-${locale}` }, version: '0.0.1' }],
        translations: { vscode: translations },
        label: locale,
      },
    }),
  );
}

export function installExtension(repo, home, vsix) {
  execFileSync(
    codeServerBin(repo),
    ['--user-data-dir', home.userDataDir, '--extensions-dir', home.extensionsDir, '--install-extension', vsix],
    { env: home.env, stdio: 'pipe' },
  );
}

export async function startCodeServer(repo, home, folder) {
  const port = await new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
  const server = spawn(
    codeServerBin(repo),
    [
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--user-data-dir',
      home.userDataDir,
      '--extensions-dir',
      home.extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      ...(folder ? [folder] : []),
    ],
    { env: home.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  server.stdout.on('data', (d) => (log += d));
  server.stderr.on('data', (d) => (log += d));
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > until) {
      server.kill();
      throw new Error(`code-server did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { port, stop: () => server.kill(), log: () => log };
}

export function launchChromium() {
  return chromium.launch({
    executablePath: fileURLToPath(new URL('./chromium-without-nice.sh', import.meta.url)),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The text of an extension's output channel (`name`) as code-server saved it under the user data folder's logs, or '' when none is there yet. */
export function outputChannelText(home, name) {
  const logs = join(home.userDataDir, 'logs');
  if (!existsSync(logs)) return '';
  const files = readdirSync(logs, { recursive: true }).filter((f) => basename(String(f)).endsWith(`${name}.log`));
  return files.map((f) => readFileSync(join(logs, String(f)), 'utf8')).join('\n');
}
