import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './helpers';

test('every UI string has a Korean translation; package.nls files have the same keys as package.json uses', () => {
  const ko = JSON.parse(readFileSync(join(REPO, 'l10n/bundle.l10n.ko.json'), 'utf8'));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(join(REPO, 'src/extension'));
  const used = new Set<string>();
  // Either quote: a string holding an apostrophe is written in double quotes.
  for (const f of files)
    for (const m of readFileSync(f, 'utf8').matchAll(/l10n\.t\(\s*(['"])((?:(?!\1)[^\\]|\\.)*)\1/g))
      used.add(m[2].replace(/\\(['"])/g, '$1'));
  assert.ok(used.size > 50);
  for (const s of used) assert.ok(typeof ko[s] === 'string' && ko[s].length > 0, `no Korean for "${s}"`);
  const pkg = readFileSync(join(REPO, 'package.json'), 'utf8');
  const keys = new Set([...pkg.matchAll(/"%([\w.]+)%"/g)].map((m) => m[1]));
  for (const file of ['package.nls.json', 'package.nls.ko.json']) {
    const nls = JSON.parse(readFileSync(join(REPO, file), 'utf8'));
    for (const k of keys) assert.ok(typeof nls[k] === 'string', `${file} lacks ${k}`);
  }
});

test('one Korean word per idea across the bundles and the walkthrough ("parameters" is 매개변수, never 파라미터)', () => {
  const texts = [
    'l10n/bundle.l10n.ko.json',
    'package.nls.ko.json',
    ...readdirSync(join(REPO, 'media/walkthrough'))
      .filter((f) => f.endsWith('.ko.md'))
      .map((f) => `media/walkthrough/${f}`),
  ];
  for (const file of texts) {
    const text = readFileSync(join(REPO, file), 'utf8');
    assert.ok(!text.includes('파라미터'), `${file} says 파라미터 where the rest says 매개변수`);
  }
});
