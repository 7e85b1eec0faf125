import { newConversationId, randomToken, seqOfMessageId, storedMessageId, transientMessageId } from '../../lambdas/domain/ids';

test('stored message ids carry their sequence number', () => {
  for (const seq of [1, 35, 36, 1_000_000, 2 ** 40]) {
    const id = storedMessageId(seq);
    expect(id.length).toBeLessThanOrEqual(64);
    expect(seqOfMessageId(id)).toBe(seq);
  }
});

test('anything else has no sequence number', () => {
  for (const id of [
    transientMessageId(),
    '',
    'abc',
    'AAAAAAAAAAAA.',
    'AAAAAAAAAAAA.0',
    'AAAAAAAAAAA.1',
    'AAAAAAAAAAAA.-1',
    'AAAAAAAAAAAA.zzzzzzzzzzz',
  ]) {
    expect(seqOfMessageId(id)).toBeUndefined();
  }
});

test('random tokens use the whole alphabet and are unique', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) seen.add(randomToken(12));
  expect(seen.size).toBe(2000);
  const chars = new Set([...Array.from(seen).join('')]);
  expect(chars.size).toBe(62);
});

test('conversation ids look like ObjectIds and start with the creation second', () => {
  const now = Date.UTC(2026, 10, 26);
  const cid = newConversationId(now);
  expect(cid).toMatch(/^[0-9a-f]{24}$/);
  expect(parseInt(cid.slice(0, 8), 16)).toBe(now / 1000);
});
