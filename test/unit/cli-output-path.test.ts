import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertCliUserError, runCli, tempDir } from './helpers';
import { listCheckpoints } from '../../src/core/checkpoint';

// Every command that writes checks its -o the same way (core/output-path.ts), before writing anything.
const SMALL = ['--layers', '1', '--heads', '2', '--width', '32', '--context', '16', '--batch', '4', '--backend', 'wasm'];
const dir = tempDir('corpus-lab-cli-out-');
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => runCli(args, dir);

const assertUserError = (args: string[], re: RegExp) => assertCliUserError(args, dir, re);

/** Every file under `root` with its content, to see that a refused command changed nothing. */
function snapshot(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(root, { recursive: true }) as string[]) {
    const p = join(root, name);
    if (!existsSync(p) || !name.includes('.')) continue;
    try {
      files[name] = readFileSync(p, 'base64');
    } catch {
      // a folder whose name has a dot
    }
  }
  return files;
}

test('-o at an existing file, a read-only folder, or into a run or checkpoint folder: one line, exit 2, nothing written', () => {
  const text = join(dir, 'text.txt');
  writeFileSync(text, 'the quick brown fox jumps over the lazy dog.\n'.repeat(60));
  const run = join(dir, 'run');
  const trained = cli(['train', text, '-o', run, ...SMALL, '--max-steps', '2']);
  assert.equal(trained.code, 0, trained.stderr);
  const adapter = join(dir, 'adapter');
  const tuned = cli(['finetune', run, text, '--lora', '-o', adapter, '--max-steps', '1', '--backend', 'wasm']);
  assert.equal(tuned.code, 0, tuned.stderr);
  const checkpoint = listCheckpoints(run)[0].dir;
  const afile = join(dir, 'a-file');
  writeFileSync(afile, 'not a folder');
  const before = snapshot(dir);

  const commands: Record<string, string[]> = {
    train: ['train', text, ...SMALL, '--max-steps', '1'],
    finetune: ['finetune', run, text, '--max-steps', '1', '--backend', 'wasm'],
    tokenize: ['tokenize', text],
    quantize: ['quantize', run, '--backend', 'wasm'],
    'export-torch': ['export-torch', run],
    merge: ['merge', adapter],
    clean: ['clean', text],
  };
  for (const [name, args] of Object.entries(commands)) {
    // clean writes a file: an existing file is what it replaces, a folder is refused.
    if (name === 'clean') assertUserError([...args, '-o', dir], /is a folder, not a file/);
    else assertUserError([...args, '-o', afile], /a-file (already exists|is a file, not a folder)/);
    assertUserError([...args, '-o', join(afile, 'out')], /a-file is a file, not a folder/);
    assertUserError([...args, '-o', join(run, 'out')], /run is a run folder, whose files this would replace or mix with/);
    assertUserError([...args, '-o', join(run, 'checkpoints', 'out')], /checkpoints is a run folder/);
    assertUserError([...args, '-o', join(checkpoint, 'out')], /holds a model, whose files this would replace or mix with/);
    if (process.platform === 'linux')
      assertUserError([...args, '-o', '/proc/corpus-lab-out'], /cannot write to \/proc \(\w+\): choose a folder you can write to/);
  }
  // tokenize writes DIR/tokenizer.json: a run's or a checkpoint's own folder is refused.
  assertUserError(['tokenize', text, '-o', run], /run is a run folder/);
  assertUserError(['tokenize', text, '-o', checkpoint], /holds a model/);
  assertUserError(['clean', text, '-o', join(run, 'run.json')], /run is a run folder/);
  assert.deepEqual(snapshot(dir), before);

  // What stays allowed: a new folder, an existing empty one, tokenize -o an existing plain folder, and
  // merged and int8 models in their run's exports/ folder (where the extension writes them).
  assert.equal(cli(['quantize', run, '-o', join(run, 'exports', 'int8'), '--backend', 'wasm']).code, 0);
  assert.equal(cli(['merge', adapter, '-o', join(adapter, 'exports', 'merged')]).code, 0);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.equal(cli(['export-torch', run, '-o', empty]).code, 0);
  const tok = join(dir, 'tok');
  for (let i = 0; i < 2; i++) assert.equal(cli(['tokenize', text, '-o', tok]).code, 0);
  assert.equal(cli(['clean', text, '-o', join(dir, 'cleaned.txt')]).code, 0);
});
