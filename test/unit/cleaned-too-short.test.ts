import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fill, isUserError } from '../../src/core/errors';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/core/train-options';
import { makeTrainPlan } from '../../src/core/train-plan';
import { renderMessage } from '../../src/extension/l10n';
import { REPO, assertCliUserError, smallModelConfig, tempDir } from './helpers';

const SHAPE = [
  '--layers',
  '1',
  '--heads',
  '2',
  '--width',
  '32',
  '--context',
  '16',
  '--batch',
  '4',
  '--max-steps',
  '1',
  '--backend',
  'wasm',
];
const ko: Record<string, string> = JSON.parse(readFileSync(join(REPO, 'l10n/bundle.l10n.ko.json'), 'utf8'));

test('a text that cleans down to nothing, or too little, says so in one line: train without --clean or with fewer rules', () => {
  const dir = tempDir();
  Object.assign(process.env, { CORPUS_LAB_CACHE: join(dir, 'cache') });
  writeFileSync(join(dir, 'tags.md'), '<div>\n<span>\n</span>\n</div>\n');
  writeFileSync(join(dir, 'short.md'), '<div>ab</div>\n');
  writeFileSync(join(dir, 'blank.txt'), '\n\n\n');
  const empty = /^corpus-lab: tags\.md is empty once cleaned with the rules markup: train without --clean or with fewer rules$/;
  assertCliUserError(['train', 'tags.md', '--clean', '--rules', 'markup', ...SHAPE], dir, empty);
  assertCliUserError(['train', 'tags.md', '--rules', 'markup', '--tokenizer', 'bpe', ...SHAPE], dir, empty);
  assertCliUserError(['estimate', 'tags.md', '--rules', 'markup', '--steps', '0'], dir, empty);
  assertCliUserError(['estimate', 'tags.md', '--rules', 'markup', '--tokenizer', 'bpe', '--steps', '0'], dir, empty);
  assertCliUserError(
    ['train', 'blank.txt', '--clean', ...SHAPE],
    dir,
    /^corpus-lab: blank\.txt is empty once cleaned: train without --clean$/,
  );
  assertCliUserError(
    ['train', 'short.md', '--rules', 'markup', ...SHAPE],
    dir,
    /^corpus-lab: short\.md has 3 tokens once cleaned with the rules markup, too few for context 16: training and validation each need at least 17; train without --clean or with fewer rules$/,
  );
  // Uncleaned, a short text keeps the message about its length.
  assertCliUserError(['train', 'short.md', ...SHAPE], dir, /^corpus-lab: the corpus has 14 tokens, too few for context 16/);
});

test('the cleaned text too short for the context reads in Korean in the extension', () => {
  const plan = (tokens: number, clean: Record<string, boolean>) => {
    try {
      makeTrainPlan(tokens, smallModelConfig(10), DEFAULT_TRAIN_OPTIONS, undefined, { path: '노트.md', clean });
    } catch (e) {
      assert.ok(isUserError(e));
      return renderMessage(e.parts, (template, args) => fill(ko[template] ?? template, args));
    }
    assert.fail('a plan on too few tokens');
  };
  assert.equal(
    plan(0, { markup: true, urls: true }),
    '노트.md는 규칙 markup, urls로 정리하면 비어 있습니다: --clean 없이 학습하거나 규칙을 줄이세요',
  );
  assert.equal(
    plan(5, {}),
    '노트.md는 정리하면 토큰이 5개로, 문맥 16에는 너무 적습니다: 학습과 검증에 각각 적어도 17개가 필요합니다. --clean 없이 학습하세요',
  );
});
