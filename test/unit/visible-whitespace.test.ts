import { test } from 'node:test';
import assert from 'node:assert/strict';
import { visibleWhitespace } from '../../src/core/visible-whitespace';

test('visibleWhitespace: a space and a real middle dot look different', () => {
  assert.notEqual(visibleWhitespace(' '), visibleWhitespace('·'));
  assert.equal(visibleWhitespace('3·1 운동'), '3·1␣운동');
});

test('visibleWhitespace: line breaks and tabs are marked; running text keeps its line breaks', () => {
  assert.equal(visibleWhitespace('a\tb\n'), 'a→b↵');
  assert.equal(visibleWhitespace('a\nb', true), 'a↵\nb');
});
