/** Push tokens belong to the client that presented them last (docs/security.md): the handover rules. */
import { ownsToken, tokenHandover } from '../../../lambdas/domain/devices';

test('a token nobody owned: nothing to hand over', () => {
  expect(tokenHandover(undefined, 'amy', 'phone')).toEqual({ moved: false, removePrevious: undefined });
});

test('the same client and device presenting its token again: nothing moves, nothing is removed', () => {
  expect(tokenHandover({ clientId: 'amy', deviceKey: 'phone' }, 'amy', 'phone')).toEqual({ moved: false, removePrevious: undefined });
});

test('the same client under another device key: its old entry for the token goes, the token has not moved', () => {
  const prev = { clientId: 'amy', deviceKey: 't-old' };
  expect(tokenHandover(prev, 'amy', 'phone')).toEqual({ moved: false, removePrevious: prev });
});

test('another client presenting the token: it moves, and the previous owner loses its entry', () => {
  const prev = { clientId: 'amy', deviceKey: 'phone' };
  expect(tokenHandover(prev, 'ben', 'phone')).toEqual({ moved: true, removePrevious: prev });
});

test('an entry is published to only while the owner names its client and device key', () => {
  const entry = { clientId: 'amy', key: 'phone' };
  expect(ownsToken({ clientId: 'amy', deviceKey: 'phone' }, entry)).toBe(true);
  expect(ownsToken({ clientId: 'ben', deviceKey: 'phone' }, entry)).toBe(false);
  expect(ownsToken({ clientId: 'amy', deviceKey: 'tablet' }, entry)).toBe(false);
  expect(ownsToken(undefined, entry)).toBe(false);
});
