import {
  FAN_OUT_AFTER_REPLY_ABOVE,
  fansOutAfterReply,
  memberAudience,
  offlineRecipients,
  type Audience,
} from '../../../lambdas/domain/fan-out';

const member = (clientId: string, joinedAt = 1, muted = false) => ({ clientId, joinedAt, muted });

describe('memberAudience', () => {
  test('every member, the sender included, with who muted and when each joined', () => {
    const audience = memberAudience([member('Tom', 10), member('Jerry', 20, true), member('Bob', 30)], 'Tom');
    expect(audience).toEqual({
      room: false,
      members: ['Tom', 'Jerry', 'Bob'],
      muted: new Set(['Jerry']),
      joinedAt: new Map([
        ['Tom', 10],
        ['Jerry', 20],
        ['Bob', 30],
      ]),
    });
  });
  test('none for a sender who is no member', () => {
    expect(memberAudience([member('Tom'), member('Jerry')], 'Bob')).toBeUndefined();
    expect(memberAudience([], 'Bob')).toBeUndefined();
  });
});

const members = (n: number): Audience => ({
  room: false,
  members: Array.from({ length: n }, (_, i) => `c${i}`),
  muted: new Set(),
  joinedAt: new Map(),
});

describe('fansOutAfterReply', () => {
  test('rooms always', () => {
    expect(fansOutAfterReply({ room: true })).toBe(true);
  });
  test('member audiences only above the bound', () => {
    expect(fansOutAfterReply(members(2))).toBe(false);
    expect(fansOutAfterReply(members(FAN_OUT_AFTER_REPLY_ABOVE))).toBe(false);
    expect(fansOutAfterReply(members(FAN_OUT_AFTER_REPLY_ABOVE + 1))).toBe(true);
  });
});

describe('offlineRecipients', () => {
  const audience: Audience = {
    room: false,
    members: ['Tom', 'Jerry', 'Bob', 'Alice'],
    muted: new Set(['Alice']),
    joinedAt: new Map(),
  };
  test('members no live connection took it for, but not the sender and not those who muted', () => {
    expect(offlineRecipients(audience, new Set(['Jerry']), 'Tom')).toEqual(['Bob']);
  });
  test('the sender is never pushed, even when none of its connections took it', () => {
    expect(offlineRecipients(audience, new Set(), 'Tom')).toEqual(['Jerry', 'Bob']);
  });
  test('nobody when everyone was reached', () => {
    expect(offlineRecipients(audience, new Set(['Tom', 'Jerry', 'Bob', 'Alice']), 'Tom')).toEqual([]);
  });
  test('rooms are never pushed', () => {
    expect(offlineRecipients({ room: true }, new Set(), 'Tom')).toEqual([]);
  });
});
