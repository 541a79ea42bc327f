import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isInside, readRegularFile } from '../../src/core/safe-fs';
import { CLI, KOREAN, tempDir, userError } from './helpers';

test('isInside: a folder and what is below it, never a sibling that shares its prefix', () => {
  assert.ok(isInside('/runs/a-x', '/runs/a-x'));
  assert.ok(isInside('/runs/a-x/checkpoints/epoch-0001', '/runs/a-x'));
  assert.ok(isInside('/runs/a-x/', '/runs/a-x'));
  assert.ok(!isInside('/runs/a-x-2/checkpoints/epoch-0001', '/runs/a-x'));
  assert.ok(!isInside('/runs/a-x-2', '/runs/a-x'));
  assert.ok(!isInside('/runs', '/runs/a-x'));
  assert.ok(!isInside('/runs/a-x/../a-y', '/runs/a-x'));
  assert.ok(isInside('/runs/a-x/..data', '/runs/a-x'));
});

test('a checkpoint whose model.safetensors (or config.json) is a FIFO is refused at once, not waited on', () => {
  const root = tempDir();
  try {
    const run = join(root, 'run');
    execFileSync(process.execPath, [
      CLI,
      'train',
      KOREAN,
      '-o',
      run,
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
      '2',
      '--json',
    ]);
    const ckpt = JSON.parse(execFileSync(process.execPath, [CLI, 'generate', run, '--max-tokens', '1', '--json'], { encoding: 'utf8' }))
      .checkpoint as string;
    for (const name of ['model.safetensors', 'config.json']) {
      const path = join(ckpt, name);
      const saved = execFileSync('cat', [path]);
      rmSync(path);
      execFileSync('mkfifo', [path]);
      for (const args of [
        ['eval', ckpt, KOREAN],
        ['generate', ckpt, '--max-tokens', '1'],
      ]) {
        const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
        assert.equal(r.signal, null, `${args[0]} waited on the FIFO ${name} until killed`);
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, new RegExp(`${name.replace('.', '\\.')} is not a regular file`));
      }
      rmSync(path);
      writeFileSync(path, saved);
    }
    assert.throws(() => readRegularFile(root), userError(/is a folder/));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
