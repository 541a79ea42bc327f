import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { cleanText, parseCleanRules } from '../../src/core/clean';
import { CLI, ENGLISH, KOREAN, tempDir } from './helpers';

const HEAP_MB = 48;

test(`clean streams a text past the 64 MB a whole read allows, within a ${HEAP_MB} MB heap, its output written atomically`, () => {
  const dir = tempDir();
  try {
    // A unit with markup that spans lines; repeated, the file is cleaned as the unit cleaned, repeated.
    const unit =
      '# 제목 <b>굵게</b>\n' +
      readFileSync(KOREAN, 'utf8').slice(0, 3000) +
      '\n<!-- 여러\n줄 주석 -->\n```\ncode\n```\nA [link\nspan](http://x.y) www.a.b/c\n' +
      readFileSync(ENGLISH, 'utf8').slice(0, 3000).replace(/\n\n+/g, '\n') +
      '\n';
    const rules = parseCleanRules('markup,urls');
    const { text: cleanedUnit, report: unitReport } = cleanText(unit, rules);
    assert.equal(cleanText(unit.repeat(3), rules).text, cleanedUnit.repeat(3));
    const file = join(dir, 'big.md');
    const copies = Math.ceil((65 * 2 ** 20) / Buffer.byteLength(unit));
    const fd = openSync(file, 'w');
    for (let i = 0; i < copies; i++) writeSync(fd, unit);
    closeSync(fd);
    const out = join(dir, 'clean.md');
    const r = spawnSync(
      process.execPath,
      [`--max-old-space-size=${HEAP_MB}`, CLI, 'clean', file, '-o', out, '--rules', 'markup,urls', '--json'],
      {
        encoding: 'utf8',
        timeout: 600_000,
      },
    );
    assert.equal(r.status, 0, r.stderr.slice(-500));
    const expected = createHash('sha256');
    for (let i = 0; i < copies; i++) expected.update(cleanedUnit);
    assert.equal(createHash('sha256').update(readFileSync(out)).digest('hex'), expected.digest('hex'));
    const { report } = JSON.parse(r.stdout);
    assert.equal(report.linesAfter, copies * (cleanedUnit.match(/\n/g) ?? []).length);
    for (const rule of ['markup', 'urls']) {
      const count = (steps: { rule: string; count: number }[]) => steps.find((s) => s.rule === rule)!.count;
      assert.equal(count(report.steps), copies * count(unitReport.steps), rule);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('clean -o leaves nothing when the text cannot be cleaned, and the file it would replace intact', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'bad.txt');
    const out = join(dir, 'out.txt');
    const fd = openSync(file, 'w');
    writeSync(fd, 'fine text\n'.repeat(600_000)); // past the first 4 MB chunk
    writeSync(fd, Buffer.from([0x61, 0xff, 0x0a]));
    closeSync(fd);
    const old = 'what was there\n';
    writeFileSync(out, old);
    const r = spawnSync(process.execPath, [CLI, 'clean', file, '-o', out], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /not valid UTF-8 \(first bad byte at offset 6000001\)/);
    assert.equal(readFileSync(out, 'utf8'), old);
    assert.deepEqual(readdirSync(dir).sort(), ['bad.txt', 'out.txt'], 'no temporary file left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
