/** Reading JSON fields of LeanCloud commands: the same guards as native frames. */
import { jsonOf, signatureOf } from '../../lambdas/leancloud/fields';

test('jsonOf: a JSON object, or 4114 for anything else and for prototype keys or deep nesting', () => {
  expect(jsonOf({ data: '{"name":"n","attr":{"x":1}}' }, 'attr')).toEqual({ name: 'n', attr: { x: 1 } });
  expect(jsonOf(undefined, 'attr')).toEqual({});
  for (const data of [
    '[1]',
    '"s"',
    'null',
    '{',
    '{"__proto__":{"polluted":true}}',
    '{"a":{"constructor":{}}}',
    '{"a":'.repeat(20) + '1' + '}'.repeat(20),
  ]) {
    expect(() => jsonOf({ data }, 'attr')).toThrow(expect.objectContaining({ code: 4114 }));
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

test('signatureOf: s, t, n together, the timestamp as a number', () => {
  expect(signatureOf({ s: 'ab', t: 1700000000, n: 'x' })).toEqual({ signature: 'ab', timestamp: 1700000000, nonce: 'x' });
  expect(signatureOf({ s: 'ab', n: 'x' })).toBeUndefined();
  expect(signatureOf({})).toBeUndefined();
});
