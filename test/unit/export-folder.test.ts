import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNewFolder } from '../../src/core/export-torch/folder';
import { tempDir, userError } from './helpers';

test('an export folder appears whole, into a new path or an empty folder, and leaves no temporary behind', () => {
  const root = tempDir('corpus-lab-export-folder-');
  for (const dir of [join(root, 'new', 'export'), join(root, 'empty')]) {
    if (dir.endsWith('empty')) mkdirSync(dir);
    writeNewFolder(dir, (temp) => {
      assert.ok(!existsSync(join(dir, 'plan.json')), 'nothing shows in the folder while it is filled');
      writeFileSync(join(temp, 'plan.json'), '{}\n');
    });
    assert.deepEqual(readdirSync(dir), ['plan.json']);
    assert.equal(readFileSync(join(dir, 'plan.json'), 'utf8'), '{}\n');
  }
  assert.deepEqual(readdirSync(root).sort(), ['empty', 'new']);
  assert.deepEqual(readdirSync(join(root, 'new')), ['export']);
});

test('an export that fails midway leaves nothing: a new path stays absent, an empty folder stays empty, a full disk is one clear line', () => {
  const root = tempDir('corpus-lab-export-folder-');
  const empty = join(root, 'empty');
  mkdirSync(empty);
  const noSpace = (temp: string) => {
    writeFileSync(join(temp, 'train.bin'), 'half');
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  for (const dir of [join(root, 'new'), empty])
    assert.throws(
      () => writeNewFolder(dir, noSpace),
      userError(/no space left on the device while writing .*what was there before is intact/),
    );
  assert.deepEqual(readdirSync(root), ['empty']);
  assert.deepEqual(readdirSync(empty), []);
  // Anything else passes through as it was.
  assert.throws(
    () =>
      writeNewFolder(join(root, 'other'), () => {
        throw new RangeError('plan');
      }),
    RangeError,
  );
  assert.deepEqual(readdirSync(root), ['empty']);
});
