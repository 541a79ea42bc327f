import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ENGLISH, KOREAN, tempDir } from './helpers';

// Memory follows what a step needs, not the corpus: with the JS heap capped far below what a
// token-per-object approach takes (~100 bytes a character), a corpus of one long line still goes through.
const HEAP_MB = 48;

function oneLine(chars: number): string {
  const unit = (readFileSync(KOREAN, 'utf8') + readFileSync(ENGLISH, 'utf8')).replace(/\n/g, ' ');
  return unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
}

function cli(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `${args[0]}: ${r.signal ?? ''} ${r.stderr.slice(-300)}`);
  return r.stdout;
}

test(`tokenize, encode and clean a corpus that is one long line within a ${HEAP_MB} MB heap`, () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'line.txt'), oneLine(2_000_000));
    writeFileSync(join(dir, 'long.txt'), oneLine(4_000_000));
    const summary = JSON.parse(cli(dir, ['tokenize', 'line.txt', '-o', 'tok', '--kind', 'char', '--json']));
    assert.ok(summary.tokens > 1_000_000);
    const ids = JSON.parse(cli(dir, ['encode', 'tok/tokenizer.json', 'line.txt', '--json'])).ids;
    assert.equal(ids.length, summary.tokens);
    cli(dir, ['clean', 'long.txt', '-o', 'clean.txt']);
    assert.ok(readFileSync(join(dir, 'clean.txt'), 'utf8').length > 1_000_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('encode writes every id through a pipe, and stops quietly when the reader closes it early', () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'text.txt'), oneLine(200_000));
    cli(dir, ['tokenize', 'text.txt', '-o', 'tok', '--kind', 'char']);
    const ids = cli(dir, ['encode', 'tok/tokenizer.json', 'text.txt']).trim().split(' ');
    assert.equal(ids.length, 200_000);
    const early = spawnSync(
      'bash',
      ['-o', 'pipefail', '-c', `"${process.execPath}" "${CLI}" encode tok/tokenizer.json text.txt | head -c 10`],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    assert.equal(early.stderr, '');
    assert.equal(early.status, 0);
    assert.equal(early.stdout.length, 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
