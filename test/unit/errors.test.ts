import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError, isUserError } from '../../src/core/errors';

test('UserError is recognised across module copies by name', () => {
  const e = new UserError('bad flag');
  assert.ok(isUserError(e));
  assert.ok(!isUserError(new Error('boom')));
  assert.equal(e.message, 'bad flag');
});
