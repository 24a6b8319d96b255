/** core/common/errors.ts: the one-line form of whatever was thrown. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstLine } from '../../core/common/errors';

const cases: Array<[string, unknown, string]> = [
  ['an Error: its message', new Error('S3 is down'), 'S3 is down'],
  ['an Error whose message goes on (a response body, a stack)', new Error('request failed\n<xml>...</xml>\n  at x'), 'request failed'],
  ['an Error without a message', new Error(''), ''],
  ['a string', 'not found\nmore', 'not found'],
  ['a number', 42, '42'],
  ['undefined', undefined, 'undefined'],
  ['an object', { code: 7 }, '[object Object]'],
];

for (const [name, thrown, expected] of cases) {
  test(`firstLine: ${name}`, () => assert.equal(firstLine(thrown), expected));
}
