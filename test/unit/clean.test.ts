import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanText, parseCleanRules } from '../../src/core/clean';
import { readCorpus } from '../../src/core/corpus';
import { isUserError } from '../../src/core/errors';

const count = (report: ReturnType<typeof cleanText>['report'], rule: string) => report.steps.find((s) => s.rule === rule)?.count;

test('always-on steps: NFC, LF, controls, zero-width, trailing spaces, blank runs, one final newline', () => {
  const input = '\n\nHello\u200B world  \r\n\r\n\r\n\r\n안녕\u0007하세요\t \rbye\u00AD';
  const { text, report } = cleanText(input);
  assert.equal(text, 'Hello world\n\n안녕하세요\nbye\n');
  assert.equal(count(report, 'line-breaks'), 5);
  assert.equal(count(report, 'control'), 1);
  assert.equal(count(report, 'invisible'), 2);
  assert.equal(count(report, 'trailing-spaces'), 2);
  assert.equal(count(report, 'blank-lines'), 1);
  assert.equal(report.linesAfter, 4);
});

test('Korean comes through intact; NFC composes conjoining Jamo into syllables; lone Jamo stay', () => {
  const ko = '대한민국은 민주공화국이다.\n제1조 ① 대한민국의 주권은 국민에게 있고, 모든 권력은 국민으로부터 나온다.\n';
  assert.equal(cleanText(ko).text, ko);
  const { text, report } = cleanText('\u1100\u1161 ㄱㄴ \u1100\n');
  assert.equal(text, '가 ㄱㄴ \u1100\n');
  assert.ok((count(report, 'nfc') ?? 0) > 0);
  assert.equal(cleanText('e\u0301').text, '\u00e9\n');
});

test('ZWJ emoji, ZWNJ, RTL and combining marks survive the default clean', () => {
  const s = '👩‍👩‍👧 می‌خواهم שָׁלוֹם مرحبا ❤️\n';
  assert.equal(cleanText(s).text, s);
});

test('optional rules: markup, urls, front matter, emoji — each counted', () => {
  const md =
    '---\ntitle: 연설\n---\n# 제목 Heading\n\nSome **bold** and *italic* and `code`, a [link](http://x.y) and <b>tag</b> &amp; more.\n> 인용문\n- item\n';
  const { text, report } = cleanText(md, parseCleanRules('front-matter,markup'));
  assert.equal(text, '제목 Heading\n\nSome bold and italic and code, a link and tag & more.\n인용문\nitem\n');
  assert.equal(count(report, 'front-matter'), 1);
  assert.ok((count(report, 'markup') ?? 0) >= 8);
  // A removed URL between two spaces leaves one space, not two (issue 15).
  const urls = cleanText('자세한 내용은 https://example.com/a?b=1 를 보세요. Also www.test.org.\n', { urls: true });
  assert.equal(urls.text, '자세한 내용은 를 보세요. Also .\n');
  assert.equal(count(urls.report, 'urls'), 2);
  const emoji = cleanText('좋아요 👍🏽 가족 👩‍👩‍👧 국기 🇰🇷 하트 ❤️ 끝\n', { emoji: true });
  assert.equal(emoji.text, '좋아요 가족 국기 하트 끝\n');
  assert.equal(count(emoji.report, 'emoji'), 4);
  assert.equal(
    cleanText('plain text, no rules on\n').report.steps.some((s) => s.rule === 'markup'),
    false,
  );
});

test('cleaning is idempotent', () => {
  const messy = '# Title\r\n\r\n\r\nA  \u200B b 👍 http://a.b\t\n\n\n\n';
  for (const rules of ['', 'markup,urls,emoji,front-matter']) {
    const once = cleanText(messy, parseCleanRules(rules)).text;
    assert.equal(cleanText(once, parseCleanRules(rules)).text, once);
  }
});

test('unknown rule names are refused, listing the valid ones', () => {
  assert.throws(
    () => parseCleanRules('markup,html'),
    (e: unknown) => isUserError(e) && /unknown clean rule "html".*front-matter, markup, urls, emoji/.test((e as Error).message),
  );
});

test('readCorpus: every unusable file gets one clear reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corpus-lab-corpus-'));
  try {
    const f = (name: string, data: Uint8Array | string) => {
      const p = join(dir, name);
      writeFileSync(p, data);
      return p;
    };
    const err = (path: string, re: RegExp, opts?: { maxBytes?: number }) =>
      assert.throws(
        () => readCorpus(path, opts),
        (e: unknown) => isUserError(e) && re.test((e as Error).message),
        String(re),
      );
    err(join(dir, 'missing.txt'), /no such file/);
    mkdirSync(join(dir, 'folder'));
    err(join(dir, 'folder'), /is a folder: pass a text file/);
    err(f('empty.txt', ''), /is empty/);
    err(f('bom-only.txt', Buffer.from([0xef, 0xbb, 0xbf])), /is empty/);
    err(f('binary.bin', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x01])), /binary file \(NUL byte at offset 4\)/);
    err(f('latin1.txt', Buffer.from([0x61, 0x62, 0xff, 0x63])), /not valid UTF-8 \(first bad byte at offset 2\)/);
    err(f('bad-seq.txt', Buffer.from([0x61, 0xc3, 0x28])), /not valid UTF-8 \(first bad byte at offset 2\)/);
    err(f('cut.txt', Buffer.concat([Buffer.from('한국'), Buffer.from([0xec, 0x96])])), /not valid UTF-8 \(first bad byte at offset 6\)/);
    err(f('big.txt', 'x'.repeat(2000)), /is 2\.0 KB, over the 1000 B limit/, { maxBytes: 1000 });
    const ok = readCorpus(f('ok.txt', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('한글 text\n')])));
    assert.equal(ok.text, '한글 text\n');
    assert.equal(ok.bytes, 3 + Buffer.byteLength('한글 text\n'));
    assert.match(ok.sha256, /^[0-9a-f]{64}$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
