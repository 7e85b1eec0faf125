/** Lone surrogates anywhere in a frame (keys or values) are refused before any schema runs. */
import { ImError } from '../../lambdas/protocol/errors';
import { jsonOf } from '../../lambdas/leancloud/fields';
import { parseOrThrow, schemas, unsafeJsonReason } from '../../lambdas/protocol/schemas';

const reason = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return e instanceof ImError ? `${e.code}: ${e.message}` : String(e);
  }
};

test('a lone high or low surrogate in a value is named by its path', () => {
  expect(unsafeJsonReason({ clientMsgId: 'dup\ud800' })).toMatch(/^clientMsgId is not well-formed UTF-16/);
  expect(unsafeJsonReason({ data: '\udc00' })).toMatch(/^data /);
  expect(unsafeJsonReason({ a: [{ b: 'ok' }, { b: 'x\udbffy' }] })).toMatch(/^a\[1\]\.b /);
  expect(unsafeJsonReason({ a: 'high then high \ud800\ud800\udc00' })).toMatch(/^a /);
  expect(unsafeJsonReason({ a: 'reversed \udc00\ud800' })).toMatch(/^a /);
  expect(unsafeJsonReason('\ud800')).toMatch(/^frame /);
  expect(unsafeJsonReason(['\ud800'])).toMatch(/^\[0\] /);
});

test('a lone surrogate in a key is refused without echoing the key', () => {
  const r = unsafeJsonReason({ attributes: { x: { ['k\ud800']: 1 } } });
  expect(r).toMatch(/^a key in attributes\.x is not well-formed UTF-16/);
  expect(r).not.toMatch(/[\ud800-\udfff]/);
  expect(unsafeJsonReason({ ['\udfff']: 1 })).toMatch(/^a key is not well-formed/);
});

test('surrogate pairs, U+FFFD and other characters are fine', () => {
  expect(unsafeJsonReason({ a: '😀👍🏽 中文 \ufffd \u0000 \uffff', ['😀']: ['\ud83d\ude00'] })).toBeUndefined();
});

test('parseOrThrow answers 4114 before the schema sees the value', () => {
  expect(reason(() => parseOrThrow(schemas.send, { cid: 'c', data: 'x', clientMsgId: 'dup\ud801' }))).toMatch(/^4114: clientMsgId /);
  // Ill-formed before wrong type: the raw-frame guard runs first.
  expect(reason(() => parseOrThrow(schemas.send, { cid: 'c', data: 7, tag: '\ud800' }))).toMatch(/^4114: tag /);
});

test('LeanCloud JSON fields get the same check after their \\u escapes are parsed', () => {
  expect(reason(() => jsonOf({ data: '{"name":"n","color":"\\ud800"}' }, 'attr'))).toMatch(/^4114: attr: color is not well-formed/);
  expect(reason(() => jsonOf({ data: '{"\\udc00":1}' }, 'where'))).toMatch(/^4114: where: a key is not well-formed/);
  expect(jsonOf({ data: '{"e":"\\ud83d\\ude00"}' }, 'attr')).toEqual({ e: '😀' });
});
