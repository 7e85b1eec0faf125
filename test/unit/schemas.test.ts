import { ImError } from '../../lambdas/protocol/errors';
import { MAX_DEPTH, parseOrThrow, schemas, unsafeJsonReason } from '../../lambdas/protocol/schemas';

const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return e instanceof ImError ? `${e.code}: ${e.message}` : String(e);
  }
};

test('a failed parse names the field', () => {
  expect(code(() => parseOrThrow(schemas.send, { cid: 'c' }))).toMatch(/^4114: data: /);
  expect(code(() => parseOrThrow(schemas.create, { members: ['a', 'b c'] }))).toMatch(/^4114: members\[1\]: clientId must be/);
  expect(code(() => parseOrThrow(schemas.query, { cid: 'c', before: { messageId: 5 } }))).toMatch(/^4114: before\.messageId/);
});

test('defaults are applied', () => {
  expect(parseOrThrow(schemas.query, { cid: 'c' }).limit).toBe(20);
});

test('prototype keys anywhere in a frame are refused before parsing', () => {
  const frame = JSON.parse('{"cid":"c","data":"x","pushData":{"a":[{"__proto__":{"x":1}}]}}') as unknown;
  expect(unsafeJsonReason(frame)).toMatch(/__proto__/);
  expect(code(() => parseOrThrow(schemas.send, frame))).toMatch(/^4114: key "__proto__"/);
  expect(unsafeJsonReason({ a: { constructor: 1 } })).toMatch(/constructor/);
  expect(unsafeJsonReason({ a: { b: [1, { c: 'prototype' }] } })).toBeUndefined();
});

test('deep nesting is refused', () => {
  let deep: unknown = 1;
  for (let i = 0; i <= MAX_DEPTH + 1; i++) deep = { d: deep };
  expect(unsafeJsonReason(deep)).toMatch(/nested more than/);
  let ok: unknown = 1;
  for (let i = 0; i < MAX_DEPTH; i++) ok = [ok];
  expect(unsafeJsonReason(ok)).toBeUndefined();
});

test('attribute keys cannot contain dots or start with $', () => {
  expect(code(() => parseOrThrow(schemas.create, { attributes: { 'a.b': 1 } }))).toMatch(/^4114/);
  expect(code(() => parseOrThrow(schemas.create, { attributes: { $a: 1 } }))).toMatch(/^4114/);
  expect(code(() => parseOrThrow(schemas.create, { attributes: { a$: { 'x.y': 1 } } }))).toBe('ok');
});
