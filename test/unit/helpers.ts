// Shared by the unit tests (bundled into each test file by scripts/build-tests.mjs).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
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
