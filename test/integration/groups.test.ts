/**
 * The seed's group chapter end to end: Tom creates "LeanCloud Fans", Jade finds it, joins,
 * sends and quits, Tom invites Alex, Ben and Chad and kicks Chad. Every party's events are
 * asserted, and so is every event a party must not get.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { TestClient, type Frame } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack();

type Conv = { cid: string; members: string[]; name: string; attributes: Record<string, unknown>; muted: boolean };

const membershipEvents = ['invited', 'kicked', 'membersAdded', 'membersRemoved'];

/** Asserts a client got exactly these membership events (in order) and nothing else of the kind. */
async function expectMembershipEvents(c: TestClient, expected: Frame[]): Promise<void> {
  await c.request('ping');
  const got = c.frames.filter((f) => membershipEvents.includes(String(f.event)));
  for (const f of got) c.frames.splice(c.frames.indexOf(f), 1);
  expect(got).toEqual(expected);
}

describe('group chat (seed chapter 群组聊天)', () => {
  test('create, find, join, send, quit, invite, kick', async () => {
    const [Tom, Bob, Mary, Jade, Alex, Ben, Chad] = h.names('Tom', 'Bob', 'Mary', 'Jade', 'Alex', 'Ben', 'Chad');
    const c: Record<string, TestClient> = {};
    for (const id of [Tom, Bob, Mary, Jade, Alex, Ben, Chad]) c[id] = h.track(await TestClient.open(h.url, id));
    const everyone = Object.keys(c);
    const others = (...ids: string[]) => everyone.filter((x) => !ids.includes(x));

    // Tom creates the group with his friends.
    const name = `LeanCloud Fans ${Tom}`;
    const conv = (await c[Tom]!.ok('create', { name, members: [Bob, Mary], attributes: { type: 1 } })).conversation as Conv;
    const cid = conv.cid;
    for (const id of [Tom, Bob, Mary]) {
      await expectMembershipEvents(c[id]!, [{ event: 'invited', cid, by: Tom, conversation: conv }]);
    }
    for (const id of others(Tom, Bob, Mary)) await expectMembershipEvents(c[id]!, []);

    // Jade finds it (she is not a member) and joins.
    const found = (await c[Jade]!.ok('find', { where: { name, 'attr.type': 1 } })).conversations as Conv[];
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ cid, members: [Tom, Bob, Mary].sort(), muted: false });
    const joined = (await c[Jade]!.ok('join', { cid })).conversation as Conv;
    expect(joined.members.sort()).toEqual([Tom, Bob, Mary, Jade].sort());
    for (const id of [Tom, Bob, Mary, Jade]) {
      await expectMembershipEvents(c[id]!, [{ event: 'membersAdded', cid, members: [Jade], by: Jade }]);
    }
    for (const id of others(Tom, Bob, Mary, Jade)) await expectMembershipEvents(c[id]!, []);
    // Joining again changes nothing and tells no one.
    expect((await c[Jade]!.ok('join', { cid })).conversation).toMatchObject({ cid });
    for (const id of everyone) await expectMembershipEvents(c[id]!, []);

    // Jade talks, then quits.
    await c[Jade]!.ok('send', { cid, data: 'hi fans' });
    for (const id of [Tom, Bob, Mary]) expect(await c[id]!.event('message')).toMatchObject({ message: { from: Jade, data: 'hi fans' } });
    expect(await c[Jade]!.ok('quit', { cid })).toEqual({});
    for (const id of [Tom, Bob, Mary]) {
      await expectMembershipEvents(c[id]!, [{ event: 'membersRemoved', cid, members: [Jade], by: Jade }]);
    }
    for (const id of others(Tom, Bob, Mary)) await expectMembershipEvents(c[id]!, []);
    await c[Tom]!.ok('send', { cid, data: 'after Jade left' });
    await c[Jade]!.expectNo('message');
    expect((await c[Jade]!.request('send', { cid, data: 'x' })).error?.code).toBe(4401);
    expect((await c[Jade]!.request('query', { cid })).error?.code).toBe(4312);
    for (const id of [Bob, Mary]) await c[id]!.event('message');

    // Tom invites Alex, Ben and Chad (and Bob, who already is a member).
    const inv = await c[Tom]!.ok('invite', { cid, members: [Alex, Ben, Chad, Bob] });
    expect(inv.added).toEqual([Alex, Ben, Chad]);
    expect(inv.failed).toEqual([{ clientId: Bob, code: 4326, name: 'ALREADY_MEMBER', message: 'already a member of this conversation' }]);
    const added = { event: 'membersAdded', cid, members: [Alex, Ben, Chad], by: Tom };
    for (const id of [Alex, Ben, Chad]) {
      await c[id]!.request('ping');
      const [invited, ...rest] = c[id]!.frames.filter((f) => membershipEvents.includes(String(f.event)));
      expect(invited).toMatchObject({ event: 'invited', cid, by: Tom, conversation: { cid, name } });
      expect((invited!.conversation as Conv).members.sort()).toEqual([Tom, Bob, Mary, Alex, Ben, Chad].sort());
      expect(rest).toEqual([added]);
      c[id]!.frames.length = 0;
    }
    for (const id of [Tom, Bob, Mary]) await expectMembershipEvents(c[id]!, [added]);
    await expectMembershipEvents(c[Jade]!, []);

    // New members see the group's earlier history.
    const hist = (await c[Alex]!.ok('query', { cid })).messages as { data: string }[];
    expect(hist.map((m) => m.data)).toEqual(['hi fans', 'after Jade left']);

    // Tom kicks Chad (and Jade, who is no longer a member).
    const kick = await c[Tom]!.ok('kick', { cid, members: [Chad, Jade] });
    expect(kick.removed).toEqual([Chad]);
    expect(kick.failed).toEqual([
      { clientId: Jade, code: 4317, name: 'MEMBERSHIP_REQUIRED', message: 'not a member of this conversation' },
    ]);
    await expectMembershipEvents(c[Chad]!, [{ event: 'kicked', cid, by: Tom }]);
    for (const id of [Tom, Bob, Mary, Alex, Ben]) {
      await expectMembershipEvents(c[id]!, [{ event: 'membersRemoved', cid, members: [Chad], by: Tom }]);
    }
    await expectMembershipEvents(c[Jade]!, []);

    // Chad is out: no messages, no sending, no history.
    await c[Tom]!.ok('send', { cid, data: 'without Chad' });
    await c[Chad]!.expectNo('message');
    expect((await c[Chad]!.request('send', { cid, data: 'x' })).error).toMatchObject({ code: 4401 });
    expect((await c[Chad]!.request('query', { cid })).error).toMatchObject({ code: 4312 });
    expect(await c[Tom]!.ok('count', { cid })).toEqual({ count: 5 });
  });

  test('membership notifications are not stored for offline clients', async () => {
    const [Tom, Ben] = h.names('Tom', 'Ben');
    const tom = h.track(await TestClient.open(h.url, Tom));
    const conv = (await tom.ok('create', { members: [] })).conversation as Conv;
    await tom.ok('invite', { cid: conv.cid, members: [Ben] });
    await tom.ok('send', { cid: conv.cid, data: 'welcome' });
    const ben = h.track(await TestClient.open(h.url, Ben));
    // The message is delivered offline (it was stored after Ben joined); the invitation is not.
    expect(await ben.event('message')).toMatchObject({ message: { data: 'welcome', offline: true } });
    await expectMembershipEvents(ben, []);
  });

  test('messages from before joining are history, not offline messages', async () => {
    const [Tom, Ben] = h.names('Tom', 'Ben');
    const tom = h.track(await TestClient.open(h.url, Tom));
    const conv = (await tom.ok('create', {})).conversation as Conv;
    await tom.ok('send', { cid: conv.cid, data: 'before Ben' });
    await tom.ok('invite', { cid: conv.cid, members: [Ben] });
    const ben = h.track(await TestClient.open(h.url, Ben));
    await ben.expectNo('message');
    expect(((await ben.ok('query', { cid: conv.cid })).messages as { data: string }[]).map((m) => m.data)).toEqual(['before Ben']);
  });
});

describe('membership errors and policies', () => {
  const missing = '000000000000000000000000';

  test('unknown conversation → 4303 for join, quit, invite, kick, mute, unmute, count', async () => {
    const [Tom] = h.names('Tom');
    const tom = h.track(await TestClient.open(h.url, Tom));
    for (const [action, extra] of [
      ['join', {}],
      ['quit', {}],
      ['invite', { members: ['x'] }],
      ['kick', { members: ['x'] }],
      ['mute', {}],
      ['unmute', {}],
      ['count', {}],
    ] as const) {
      const r = await tom.request(action, { cid: missing, ...extra });
      expect({ action, error: r.error?.code }).toEqual({ action, error: 4303 });
    }
  });

  test('invite by a non-member and kick by a non-creator → 4320', async () => {
    const [Tom, Bob, Eve] = h.names('Tom', 'Bob', 'Eve');
    const tom = h.track(await TestClient.open(h.url, Tom));
    const bob = h.track(await TestClient.open(h.url, Bob));
    const eve = h.track(await TestClient.open(h.url, Eve));
    const conv = (await tom.ok('create', { members: [Bob] })).conversation as Conv;
    expect((await eve.request('invite', { cid: conv.cid, members: [Eve] })).error).toMatchObject({
      code: 4320,
      name: 'OPERATION_UNAUTHORIZED',
    });
    expect((await bob.request('kick', { cid: conv.cid, members: [Tom] })).error).toMatchObject({ code: 4320 });
    expect((await eve.request('mute', { cid: conv.cid })).error).toMatchObject({ code: 4320 });
    expect(await tom.ok('count', { cid: conv.cid })).toEqual({ count: 2 });
  });

  test('invite and join stop at 500 members → 4304, nothing half-done', async () => {
    const [Tom, Late] = h.names('Tom', 'Late');
    const tom = h.track(await TestClient.open(h.url, Tom));
    const conv = (await tom.ok('create', { members: Array.from({ length: 497 }, (_, i) => `${Tom}-m${i}`) })).conversation as Conv;
    expect((await tom.request('invite', { cid: conv.cid, members: ['a1', 'a2', 'a3'] })).error).toMatchObject({
      code: 4304,
      name: 'CONVERSATION_FULL',
    });
    expect(await tom.ok('count', { cid: conv.cid })).toEqual({ count: 498 });
    expect((await tom.ok('invite', { cid: conv.cid, members: ['a1', 'a2'] })).added).toEqual(['a1', 'a2']);
    const late = h.track(await TestClient.open(h.url, Late));
    expect((await late.request('join', { cid: conv.cid })).error).toMatchObject({ code: 4304 });
    await tom.ok('kick', { cid: conv.cid, members: ['a1'] });
    expect((await late.request('join', { cid: conv.cid })).ok).toBe(true);
    expect(await tom.ok('count', { cid: conv.cid })).toEqual({ count: 500 });
  });

  test('chat rooms refuse invite and kick → 4314', async () => {
    const [Tom] = h.names('Tom');
    const tom = h.track(await TestClient.open(h.url, Tom));
    // Rooms cannot be created through the API yet: a room record written directly.
    const cid = `room${Tom}`.padEnd(24, '0').slice(0, 24);
    await h.stack.deps.db.send(
      new PutCommand({
        TableName: h.stack.config.tables.conversations,
        Item: {
          cid,
          creator: Tom,
          attributes: {},
          transient: true,
          unique: false,
          createdAt: 1,
          updatedAt: 1,
          lastMessageAt: null,
          lastSeq: 0,
          memberCount: 0,
        },
      }),
    );
    for (const action of ['invite', 'kick']) {
      expect((await tom.request(action, { cid, members: ['x'] })).error).toMatchObject({
        code: 4314,
        name: 'NORMAL_CONVERSATION_REQUIRED',
      });
    }
  });

  test('mute and unmute are reported per caller in find', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = h.track(await TestClient.open(h.url, Tom));
    const bob = h.track(await TestClient.open(h.url, Bob));
    const conv = (await tom.ok('create', { members: [Bob] })).conversation as Conv;
    expect(await bob.ok('mute', { cid: conv.cid })).toEqual({});
    const forBob = (await bob.ok('find', { where: { cid: conv.cid } })).conversations as Conv[];
    const forTom = (await tom.ok('find', { where: { cid: conv.cid } })).conversations as Conv[];
    expect([forBob[0]!.muted, forTom[0]!.muted]).toEqual([true, false]);
    await bob.ok('unmute', { cid: conv.cid });
    expect(((await bob.ok('find', { where: { cid: conv.cid } })).conversations as Conv[])[0]!.muted).toBe(false);
  });
});

describe('IM_KICK_POLICY=member', () => {
  const m = useStack({ env: { IM_LOG_LEVEL: 'silent', IM_KICK_POLICY: 'member' } });
  test('any member may kick; a non-member may not', async () => {
    const [Tom, Bob, Eve] = m.names('Tom', 'Bob', 'Eve');
    const tom = m.track(await TestClient.open(m.url, Tom));
    const bob = m.track(await TestClient.open(m.url, Bob));
    const eve = m.track(await TestClient.open(m.url, Eve));
    const conv = (await tom.ok('create', { members: [Bob, 'Carl'] })).conversation as Conv;
    expect((await eve.request('kick', { cid: conv.cid, members: ['Carl'] })).error?.code).toBe(4320);
    expect((await bob.ok('kick', { cid: conv.cid, members: ['Carl'] })).removed).toEqual(['Carl']);
  });
});
