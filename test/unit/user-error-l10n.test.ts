import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Message, UserError, fill, isUserError } from '../../src/core/errors';
import { readCorpus } from '../../src/core/corpus';
import { readSafetensors } from '../../src/core/safetensors';
import { renderMessage } from '../../src/extension/l10n';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions } from '../../src/core/train-options';
import { REPO, tempDir } from './helpers';
import { errorTemplates } from './error-templates';

const ko: Record<string, string> = JSON.parse(readFileSync(join(REPO, 'l10n/bundle.l10n.ko.json'), 'utf8'));

/** The Korean UI's rendering: vscode.l10n.t looks the template up in the ko bundle and fills it. */
const korean = (m: Message) => renderMessage(m, (template, args) => fill(ko[template] ?? template, args));

const placeholders = (s: string) => [...new Set(s.match(/\{\d+\}/g) ?? [])].sort().join(' ');

test('every UserError and message() template in src is a literal with a Korean translation that has the same placeholders', () => {
  const { templates, nonLiteral } = errorTemplates(REPO);
  assert.deepEqual(nonLiteral, [], 'these need a literal template, so they can be translated');
  assert.ok(templates.size > 150, `only ${templates.size} templates found`);
  for (const t of templates) {
    assert.ok(typeof ko[t] === 'string' && ko[t].length > 0, `no Korean for the error "${t}"`);
    assert.equal(placeholders(ko[t]), placeholders(t), `the Korean for "${t}" has other placeholders`);
  }
});

test('a core error renders in English for the CLI and in Korean, particles chosen, for the Korean UI', () => {
  const dir = tempDir();
  try {
    const empty = join(dir, '빈파일.txt');
    writeFileSync(empty, '');
    const e = (() => {
      try {
        readCorpus(empty);
      } catch (err) {
        return err;
      }
    })();
    assert.ok(isUserError(e));
    assert.equal(e.message, `${empty} is empty: nothing to train on`);
    assert.equal(korean(e.parts), `${empty}가 비어 있습니다: 학습할 내용이 없습니다`);

    // A reason inside the message (a message as an argument) is translated too.
    const truncated = join(dir, 'model.safetensors');
    writeFileSync(truncated, Buffer.alloc(3));
    const t = (() => {
      try {
        readSafetensors(truncated);
      } catch (err) {
        return err;
      }
    })();
    assert.ok(isUserError(t));
    assert.equal(
      t.message,
      'model.safetensors: the file has 3 bytes, fewer than the 8-byte header length: it is truncated or not a safetensors file',
    );
    assert.equal(
      korean(t.parts),
      'model.safetensors: 파일이 3바이트로, 8바이트 헤더 길이보다 짧습니다: 잘렸거나 safetensors 파일이 아닙니다',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const lr = new UserError("--context must be a whole number from 1 to the model's context, {0} (got {1})", 64, 0);
  assert.equal(lr.message, "--context must be a whole number from 1 to the model's context, 64 (got 0)");
  assert.equal(korean(lr.parts), '--context는 1부터 모델의 문맥 길이 64까지의 정수여야 합니다 (받은 값: 0)');
  // An option's name is a message too: the Korean names it in Korean.
  const batch = (() => {
    try {
      validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, batch: 0 });
    } catch (err) {
      return err;
    }
  })();
  assert.ok(isUserError(batch));
  assert.equal(batch.message, 'batch must be a whole number from 1 to 4096 (got 0)');
  assert.equal(korean(batch.parts), '배치 크기는 1부터 4096까지의 정수여야 합니다 (받은 값: 0)');
  // 을(를) after a placeholder: chosen by how the name ends.
  const write = (name: string) => korean(new UserError('cannot write {0}: a part of that path is a file, not a folder', name).parts);
  assert.equal(write('헌법'), '헌법을 쓸 수 없습니다: 경로의 일부가 폴더가 아니라 파일입니다');
  assert.equal(write('말뭉치'), '말뭉치를 쓸 수 없습니다: 경로의 일부가 폴더가 아니라 파일입니다');
});
