// Shared by the unit tests (bundled into each test file by scripts/build-tests.mjs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUserError } from '../../src/core/errors';
import type { ModelConfig } from '../../src/core/model-config';
import { loadAddon } from '../../src/worker/engine/native';

export const REPO = join(__dirname, '../../..');
export const CLI = join(REPO, 'dist/cli.js');
export const ENGLISH = join(REPO, 'media/samples/shakespeare.txt');
export const KOREAN = join(REPO, 'media/samples/constitution-ko.txt');
/** A model small enough to train a few steps in a test. */
export const TINY_MODEL = { layers: 1, heads: 2, width: 32, context: 16, batch: 4, backend: 'wasm' as const, seed: 7 };

/** A two-layer LayerNorm GPT-2 of width 32 over 16 positions, for the given vocabulary. */
export function smallModelConfig(vocabSize: number): ModelConfig {
  return { vocabSize, context: 16, layers: 2, heads: 4, width: 32, norm: 'layernorm', dropout: 0, bias: true };
}

/** The JSON objects of output with one per line (the CLI's --json events). */
export function jsonLines(text: string) {
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

/** The CLI run in `cwd`: its exit code and output. */
export function runCli(args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exit 2, exactly one line on stderr, matching `re`, no internal error, no stack trace. */
export function assertCliUserError(args: string[], cwd: string, re: RegExp, timeout?: number): void {
  const r = runCli(args, cwd, timeout);
  assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^corpus-lab: /);
  assert.doesNotMatch(lines[0], /internal error/);
  assert.match(lines[0], re);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

export function tempDir(prefix = 'corpus-lab-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** An assert.throws/rejects matcher: a UserError whose message matches `re`. */
export const userError = (re: RegExp) => (e: unknown) => isUserError(e) && re.test((e as Error).message);

/** What `--backend auto` picks here: the native engine when its addon is built and loads, else wasm. */
export const AUTO_BACKEND = 'addon' in loadAddon() ? 'native' : 'wasm';

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A folder of two Korean documents (a .txt and a .md) under `root`, to fine-tune on. */
export function koreanDocuments(root: string): string {
  const docs = join(root, 'docs');
  mkdirSync(docs);
  writeFileSync(join(docs, 'a.txt'), readFileSync(KOREAN, 'utf8').slice(0, 1500));
  writeFileSync(join(docs, 'b.md'), readFileSync(KOREAN, 'utf8').slice(3000, 4000));
  return docs;
}
