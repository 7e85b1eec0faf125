import { APNS_MAX_BYTES, alertFor, buildApnsPayload, snsMessage } from '../../lambdas/domain/push-payload';

const base = { alert: '您有新的消息', badge: 3, cid: 'c'.repeat(24), messageId: 'AbCdEfGhIjKl.1z' };
const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');

test('alert, badge, sound, ids', () => {
  expect(buildApnsPayload(base)).toEqual({
    aps: { alert: '您有新的消息', badge: 3, sound: 'default' },
    cid: base.cid,
    messageId: base.messageId,
  });
});

test('pushData: alert replaces the template, APNs keys go into aps, the rest is merged, ids and badge win', () => {
  const pushData = {
    alert: 'Tom: hi',
    sound: 'ping.caf',
    category: 'MSG',
    'thread-id': 't1',
    custom: { deep: [1] },
    cid: 'forged',
    messageId: 'forged',
    badge: 99,
    aps: { x: 1 },
  };
  const p = buildApnsPayload({ ...base, alert: alertFor(pushData, 'template'), pushData });
  expect(p).toEqual({
    custom: { deep: [1] },
    aps: { alert: 'Tom: hi', badge: 3, sound: 'ping.caf', category: 'MSG', 'thread-id': 't1' },
    cid: base.cid,
    messageId: base.messageId,
  });
  expect(alertFor(undefined, 'template')).toBe('template');
  expect(alertFor({ alert: 5 }, 'template')).toBe('template');
});

test('an oversize alert is truncated on a code point boundary; the ids stay whole', () => {
  const p = buildApnsPayload({ ...base, alert: '长'.repeat(3000) });
  expect(size(p)).toBeLessThanOrEqual(APNS_MAX_BYTES);
  const alert = (p.aps as { alert: string }).alert;
  expect(alert.endsWith('…')).toBe(true);
  expect(alert.length).toBeGreaterThan(1000);
  expect([p.cid, p.messageId]).toEqual([base.cid, base.messageId]);
  // Emoji are two UTF-16 units: never split.
  const e = buildApnsPayload({ ...base, alert: '😀'.repeat(2000) });
  expect(size(e)).toBeLessThanOrEqual(APNS_MAX_BYTES);
  expect((e.aps as { alert: string }).alert).toMatch(/^(😀)+…$/u);
});

test('custom fields too big to fit are dropped before the ids', () => {
  const p = buildApnsPayload({ ...base, pushData: { blob: 'x'.repeat(5000), alert: 'hello' }, alert: 'hello' });
  expect(size(p)).toBeLessThanOrEqual(APNS_MAX_BYTES);
  expect(p).toEqual({ aps: { alert: 'hello', badge: 3, sound: 'default' }, cid: base.cid, messageId: base.messageId });
});

test('the SNS message carries a default text and the platform payload as a JSON string', () => {
  const payload = buildApnsPayload(base);
  const m = JSON.parse(snsMessage('APNS_SANDBOX', payload)) as Record<string, string>;
  expect(m.default).toBe('您有新的消息');
  expect(JSON.parse(m.APNS_SANDBOX!)).toEqual(payload);
});
