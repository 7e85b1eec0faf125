/**
 * Delivery guarantees (docs/protocol.md §5, §7, §8): offline caps, unread mode and `read`, receipts,
 * expired connections, dying sockets, and DynamoDB throttling in the middle of a send.
 */
import { TestClient, type Frame } from '../helpers/client';
import { useStack } from '../helpers/stack';

let clock = Date.now();
const h = useStack({ now: () => clock, dynamoFaults: true });
beforeEach(() => {
  clock = Date.now();
  h.stack.faults!.clear();
});

type Msg = { id: string; cid: string; from: string; data: string; seq: number; offline?: boolean; receipt?: boolean };
const open = async (id: string, extra: Frame = {}) => h.track(await TestClient.open(h.url, id, extra));
const cidOf = async (c: TestClient, fields: Frame) => ((await c.ok('create', fields)).conversation as { cid: string }).cid;

/**
 * Offline messages are posted after the `open` reply by a follow-up that runs concurrently with
 * later requests, so wait for the expected number, then make sure no more arrive.
 */
async function drainOffline(c: TestClient, expected: number): Promise<Msg[]> {
  const got: Msg[] = [];
  for (let i = 0; i < expected; i++) got.push((await c.event('message')).message as Msg);
  await new Promise((r) => setTimeout(r, 100));
  await c.expectNo('message');
  return got;
}

describe('offline delivery', () => {
  test('at most 100 per conversation; acking lets the next login continue', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const cid = await cidOf(tom, { members: [Bob] });
    for (let i = 1; i <= 105; i++) await tom.ok('send', { cid, data: `m${i}` });
    let bob = await open(Bob);
    const first = await drainOffline(bob, 100);
    expect(first.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(first.every((m) => m.offline)).toBe(true);
    for (let i = 0; i < 100; i += 100) await bob.ok('ack', { cid, messageIds: first.slice(i, i + 100).map((m) => m.id) });
    await bob.close();
    bob = await open(Bob);
    expect((await drainOffline(bob, 5)).map((m) => m.data)).toEqual(['m101', 'm102', 'm103', 'm104', 'm105']);
  });

  test('at most 50 conversations per login, most recently active first', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const cids: string[] = [];
    for (let i = 0; i < 52; i++) {
      const cid = await cidOf(tom, { members: [Bob] });
      clock += 1000;
      await tom.ok('send', { cid, data: `c${i}` });
      cids.push(cid);
    }
    const bob = await open(Bob);
    const got = await drainOffline(bob, 50);
    expect(got).toHaveLength(50);
    expect(new Set(got.map((m) => m.cid))).toEqual(new Set(cids.slice(2)));
  });
});

describe('unread mode and read', () => {
  test('one unread event with counts and last message; own messages never count', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const c1 = await cidOf(tom, { members: [Bob] });
    const c2 = await cidOf(tom, { members: [Bob] });
    const bobOther = await open(Bob);
    await bobOther.ok('send', { cid: c1, data: 'bob says' });
    await bobOther.close();
    for (const d of ['a', 'b', 'c']) await tom.ok('send', { cid: c1, data: d });
    await tom.ok('send', { cid: c2, data: 'only one' });
    await bobOther.closed;

    const bob = await open(Bob, { unreadMode: true });
    const ev = await bob.event('unread');
    const list = (ev.conversations as { cid: string; unread: number; lastMessage: Msg }[]).sort((x, y) => x.unread - y.unread);
    expect(list.map((e) => [e.cid, e.unread, e.lastMessage.data])).toEqual([
      [c2, 1, 'only one'],
      [c1, 3, 'c'],
    ]);
    await bob.expectNo('message');
    await bob.expectNo('unread');
  });

  test('a client with nothing unread still gets one (empty) unread event', async () => {
    const [Lonely] = h.names('Lonely');
    const c = await open(Lonely, { unreadMode: true });
    expect(await c.event('unread')).toEqual({ event: 'unread', conversations: [] });
  });

  test('read moves the read point; the other connections get the new count', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const cid = await cidOf(tom, { members: [Bob] });
    const ids: string[] = [];
    for (const d of ['a', 'b', 'c']) ids.push(String((await tom.ok('send', { cid, data: d })).messageId));
    const phone = await open(Bob, { unreadMode: true });
    const web = await open(Bob, { unreadMode: true });
    await phone.event('unread');
    await web.event('unread');
    await phone.ok('read', { cid, messageId: ids[0] });
    expect(await web.event('unread')).toEqual({ event: 'unread', conversations: [{ cid, unread: 2 }] });
    await phone.ok('read', { cid });
    expect(await web.event('unread')).toEqual({ event: 'unread', conversations: [{ cid, unread: 0 }] });
    await phone.expectNo('unread');
    // Reading backwards does not move the point back.
    await phone.ok('read', { cid, messageId: ids[1] });
    expect(await web.event('unread')).toEqual({ event: 'unread', conversations: [{ cid, unread: 0 }] });
    const again = await open(Bob, { unreadMode: true });
    expect(await again.event('unread')).toEqual({ event: 'unread', conversations: [] });
    expect((await phone.request('read', { cid, messageId: 'AAAAAAAAAAAA.z' })).error?.code).toBe(4114);
    const [Eve] = h.names('Eve');
    const eve = await open(Eve);
    expect((await eve.request('read', { cid })).error?.code).toBe(4320);
  });
});

describe('receipts', () => {
  test('read receipts (extension): one-to-one only, when the read point moves, with the read message', async () => {
    const [Tom, Bob, Amy] = h.names('Tom', 'Bob', 'Amy');
    const tom = await open(Tom);
    const bob = await open(Bob);
    const cid = await cidOf(tom, { members: [Bob] });
    const first = await tom.ok('send', { cid, data: 'a' });
    const second = await tom.ok('send', { cid, data: 'b' });
    await bob.ok('read', { cid, messageId: first.messageId });
    expect(await tom.event('read')).toEqual({ event: 'read', cid, messageId: first.messageId, by: Bob, readAt: first.timestamp });
    await bob.ok('read', { cid });
    expect(await tom.event('read')).toMatchObject({ messageId: second.messageId, readAt: second.timestamp });
    // Nothing new read: no receipt. The reader gets none of its own.
    await bob.ok('read', { cid });
    await tom.expectNo('read');
    await bob.expectNo('read');

    // Groups: none (read points are available on request instead).
    const group = await cidOf(tom, { members: [Bob, Amy] });
    await tom.ok('send', { cid: group, data: 'c' });
    await bob.ok('read', { cid: group });
    await tom.expectNo('read');
  });

  test('one delivered event per recipient, to every connection of the sender, on ack', async () => {
    const [Tom, Bob, Amy] = h.names('Tom', 'Bob', 'Amy');
    const tom = await open(Tom);
    const tomWeb = await open(Tom);
    const bob = await open(Bob);
    const amy = await open(Amy);
    const cid = await cidOf(tom, { members: [Bob, Amy] });
    const sent = await tom.ok('send', { cid, data: 'did you get it?', receipt: true });
    const mb = (await bob.event('message')).message as Msg;
    expect(mb.receipt).toBe(true);
    const ma = (await amy.event('message')).message as Msg;
    await tom.expectNo('delivered');
    clock += 50;
    await bob.ok('ack', { cid, messageIds: [mb.id] });
    for (const c of [tom, tomWeb]) {
      expect(await c.event('delivered')).toEqual({ event: 'delivered', cid, messageId: sent.messageId, deliveredAt: clock, by: Bob });
    }
    await bob.ok('ack', { cid, messageIds: [mb.id] });
    await amy.ok('ack', { cid, messageIds: [ma.id] });
    expect(await tom.event('delivered')).toMatchObject({ by: Amy });
    await tom.expectNo('delivered');
    expect(tomWeb.take('delivered').map((e) => e.by)).toEqual([Amy]);
    await bob.expectNo('delivered');
  });

  test('never for messages without receipt or transient ones', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const bob = await open(Bob);
    const cid = await cidOf(tom, { members: [Bob] });
    await tom.ok('send', { cid, data: 'plain' });
    await tom.ok('send', { cid, data: 'typing', transient: true, receipt: true });
    const ids = [(await bob.event('message')).message as Msg, (await bob.event('message')).message as Msg].map((m) => m.id);
    await bob.ok('ack', { cid, messageIds: ids });
    await tom.expectNo('delivered');
  });
});

describe('dead and expired connections', () => {
  test('connection records past their expiry are ignored', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const bob = await open(Bob);
    const cid = await cidOf(tom, { members: [Bob] });
    await bob.event('invited');
    clock += 3 * 3600 * 1000;
    // Tom's own record expired too: like API Gateway after 2 h, it must open again.
    expect((await tom.request('send', { cid, data: 'x' })).error?.code).toBe(4105);
    const tom2 = await open(Tom);
    await tom2.ok('send', { cid, data: 'nobody live' });
    await bob.expectNo('message');
  });

  test('a recipient whose socket dies without a close frame loses nothing', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const bob = await open(Bob);
    const cid = await cidOf(tom, { members: [Bob] });
    const sent: string[] = [];
    const stream = (async () => {
      for (let i = 0; i < 40; i++) sent.push(String((await tom.ok('send', { cid, data: `m${i}` })).messageId));
    })();
    await new Promise((r) => setTimeout(r, 30));
    // No close frame: the TCP connection just goes away.
    (bob.ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
    await stream;
    const live = bob.take('message').map((e) => (e.message as Msg).id);
    const bob2 = await open(Bob);
    const offline = (await drainOffline(bob2, sent.length)).map((m) => m.id);
    // Nothing acked, so everything comes again, in order, exactly once.
    expect(offline).toEqual(sent);
    expect(live.every((id) => sent.includes(id))).toBe(true);
  });
});

describe('DynamoDB throttling during send', () => {
  const messagesTable = () => h.stack.config.tables.messages;

  test('a short burst of throttling is absorbed by the SDK retries', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const bob = await open(Bob);
    const cid = await cidOf(tom, { members: [Bob] });
    const before = h.stack.faults!.injected;
    h.stack.faults!.inject({ operation: 'PutItem', table: messagesTable(), times: 2 });
    const r = await tom.ok('send', { cid, data: 'throttled', clientMsgId: 'k1' });
    expect(h.stack.faults!.injected - before).toBe(2);
    expect(((await bob.event('message')).message as Msg).id).toBe(r.messageId);
    expect(((await bob.ok('query', { cid })).messages as Msg[]).map((m) => m.data)).toEqual(['throttled']);
  });

  test.each([
    ['storing the message', 'PutItem', 'messages'],
    ['allocating the sequence number', 'UpdateItem', 'conversations'],
    ['claiming the clientMsgId', 'PutItem', 'keys'],
  ] as const)('throttled past the retries while %s: 4200, and the resend stores it once', async (_what, operation, table) => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const bob = await open(Bob);
    const cid = await cidOf(tom, { members: [Bob] });
    // More failures than the SDK makes attempts; its throttling backoff takes seconds.
    h.stack.faults!.inject({ operation, table: h.stack.config.tables[table], times: 10 });
    const failed = await tom.request('send', { cid, data: 'important', clientMsgId: 'k2' }, 25000);
    expect(failed.error).toEqual({ code: 4200, name: 'INTERNAL_ERROR', message: 'internal error, retry later' });
    h.stack.faults!.clear();
    const ok = await tom.ok('send', { cid, data: 'important', clientMsgId: 'k2' });
    const again = await tom.ok('send', { cid, data: 'important', clientMsgId: 'k2' });
    expect(again).toEqual(ok);
    const history = (await bob.ok('query', { cid })).messages as Msg[];
    expect(history.map((m) => [m.id, m.data])).toEqual([[ok.messageId, 'important']]);
    await bob.request('ping');
    expect(bob.take('message').map((e) => (e.message as Msg).id)).toEqual([ok.messageId]);
  });
});
