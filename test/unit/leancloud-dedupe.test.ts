import { dedupeIdOf } from '../../lambdas/leancloud/message-commands';

describe('dedupeIdOf (the SDK dt as a clientMsgId)', () => {
  test('SDK ids pass unchanged', () => {
    expect(dedupeIdOf('5c1c1e8e-5b7c-4b8e-9a1f-0d2a3c4b5e6f')).toBe('5c1c1e8e-5b7c-4b8e-9a1f-0d2a3c4b5e6f');
  });
  test('long ids sharing their first 64 characters stay distinct, and fit', () => {
    const base = 'x'.repeat(64);
    const a = dedupeIdOf(`${base}a`);
    const b = dedupeIdOf(`${base}b`);
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(dedupeIdOf(`${base}a`)).toBe(a);
  });
  test('a surrogate pair at the cut is not split', () => {
    expect(dedupeIdOf(`${'x'.repeat(63)}😀`)).toMatch(/^dt-[A-Za-z0-9_-]+$/);
  });
});
