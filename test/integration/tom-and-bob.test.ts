/**
 * The seed guide's first scenario end to end over real WebSockets: Tom and Bob open sessions,
 * create a conversation, exchange messages, page history; plus dedupe, transient messages,
 * unique conversations, fire-and-forget frames and offline delivery.
 */
import { TestClient, type Frame } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack();
const open = async (clientId: string, extra: Frame = {}) => h.track(await TestClient.open(h.url, clientId, extra));

type Conversation = { cid: string; members: string[]; creator: string; attributes: Record<string, unknown> };
type Message = {
  id: string;
  cid: string;
  from: string;
  data: string;
  timestamp: number;
  seq?: number;
  transient?: boolean;
  offline?: boolean;
};

async function conversationOf(tom: TestClient, members: string[], extra: Frame = {}): Promise<Conversation> {
  const r = await tom.ok('create', { members, ...extra });
  return r.conversation as Conversation;
}

let Tom = 'Tom';
let Bob = 'Bob';
let Alex = 'Alex';
let Zed = 'Zed';
beforeEach(() => {
  [Tom, Bob, Alex, Zed] = h.names('Tom', 'Bob', 'Alex', 'Zed');
});

describe('Tom and Bob (seed scenario 1)', () => {
  test('open, create, send, receive on every other connection', async () => {
    const tom = await open(Tom);
    const tomWeb = await open(Tom);
    const bobPhone = await open(Bob);
    const bobWeb = await open(Bob);

    const created = await tom.request('create', { members: [Bob], attributes: { type: 0 } });
    expect(created).toMatchObject({ reply: 'create', ok: true });
    const conv = created.result!.conversation as Conversation & Record<string, unknown>;
    expect(conv).toMatchObject({
      creator: Tom,
      members: [Tom, Bob],
      attributes: { type: 0 },
      name: null,
      transient: false,
      unique: false,
      lastMessageAt: null,
      muted: false,
    });
    expect(conv.cid).toMatch(/^[0-9a-f]{24}$/);
    expect(typeof conv.createdAt).toBe('number');

    // invited reaches the operator and the targets, on every live connection.
    for (const c of [tom, tomWeb, bobPhone, bobWeb]) {
      const ev = await c.event('invited');
      expect(ev).toMatchObject({ cid: conv.cid, by: Tom, conversation: { cid: conv.cid, members: [Tom, Bob] } });
    }

    const sent = await tom.request('send', { cid: conv.cid, data: 'hello' });
    expect(sent).toMatchObject({ reply: 'send', ok: true, result: { seq: 1 } });
    const { messageId, timestamp } = sent.result as { messageId: string; timestamp: number };
    for (const c of [bobPhone, bobWeb, tomWeb]) {
      const ev = await c.event('message');
      expect(ev.message).toEqual({ id: messageId, cid: conv.cid, from: Tom, data: 'hello', timestamp, seq: 1 });
    }
    await tom.expectNo('message');

    const back = await bobPhone.ok('send', { cid: conv.cid, data: 'hi Tom' });
    expect(back.seq).toBe(2);
    expect(((await tom.event('message')).message as Message).data).toBe('hi Tom');
    expect(((await bobWeb.event('message')).message as Message).from).toBe(Bob);
    await bobPhone.expectNo('message');
  });

  test('history pages newest first, each page oldest to newest, with hasMore', async () => {
    const tom = await open(Tom);
    const bob = await open(Bob);
    const conv = await conversationOf(tom, [Bob]);
    for (let i = 1; i <= 25; i++) await tom.ok('send', { cid: conv.cid, data: `m${i}` });

    const p1 = await bob.ok('query', { cid: conv.cid, limit: 10 });
    const m1 = p1.messages as Message[];
    expect(m1.map((m) => m.data)).toEqual(Array.from({ length: 10 }, (_, i) => `m${16 + i}`));
    expect(p1.hasMore).toBe(true);

    const p2 = await bob.ok('query', { cid: conv.cid, limit: 10, before: { messageId: m1[0]!.id, timestamp: m1[0]!.timestamp } });
    expect((p2.messages as Message[]).map((m) => m.data)).toEqual(Array.from({ length: 10 }, (_, i) => `m${6 + i}`));
    expect(p2.hasMore).toBe(true);

    const first = (p2.messages as Message[])[0]!;
    const p3 = await bob.ok('query', { cid: conv.cid, limit: 10, before: { messageId: first.id } });
    expect((p3.messages as Message[]).map((m) => m.data)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(p3.hasMore).toBe(false);

    const seqs = [...(p3.messages as Message[]), ...(p2.messages as Message[]), ...m1].map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));

    const dflt = await bob.ok('query', { cid: conv.cid });
    expect((dflt.messages as Message[]).length).toBe(20);

    // A timestamp alone positions too (messages strictly older).
    const byTime = await bob.ok('query', { cid: conv.cid, limit: 1000, before: { timestamp: m1[0]!.timestamp } });
    expect((byTime.messages as Message[]).every((m) => m.timestamp < m1[0]!.timestamp)).toBe(true);
  });

  test('history forward with after (extension): oldest first from a message, bounded by before', async () => {
    const tom = await open(Tom);
    const conv = await conversationOf(tom, [Bob]);
    const sent: string[] = [];
    for (let i = 1; i <= 7; i++) sent.push((await tom.ok('send', { cid: conv.cid, data: `m${i}` })).messageId as string);

    const p1 = await tom.ok('query', { cid: conv.cid, limit: 3, after: { messageId: sent[0] } });
    expect((p1.messages as Message[]).map((m) => m.data)).toEqual(['m2', 'm3', 'm4']);
    expect(p1.hasMore).toBe(true);
    const last = (p1.messages as Message[])[2]!;
    const p2 = await tom.ok('query', { cid: conv.cid, limit: 10, after: { messageId: last.id } });
    expect((p2.messages as Message[]).map((m) => m.data)).toEqual(['m5', 'm6', 'm7']);
    expect(p2.hasMore).toBe(false);

    // A range: after m2, before m6, both exclusive, walked from its oldest end.
    const range = await tom.ok('query', { cid: conv.cid, limit: 10, after: { messageId: sent[1] }, before: { messageId: sent[5] } });
    expect((range.messages as Message[]).map((m) => m.data)).toEqual(['m3', 'm4', 'm5']);
    // From the start of time: the conversation's first messages.
    expect(
      ((await tom.ok('query', { cid: conv.cid, limit: 2, after: { timestamp: 0 } })).messages as Message[]).map((m) => m.data),
    ).toEqual(['m1', 'm2']);
    expect((await tom.request('query', { cid: conv.cid, after: {} })).error?.code).toBe(4114);
  });

  test('mentions (extension): carried on the message and in history; the unread summary flags conversations that mention you', async () => {
    const tom = await open(Tom);
    const conv = await conversationOf(tom, [Bob, Alex]);
    await tom.ok('send', { cid: conv.cid, data: '@Bob look', mentions: [Bob, Bob] });
    const [stored] = (await tom.ok('query', { cid: conv.cid })).messages as (Message & { mentions?: string[] })[];
    expect(stored!.mentions).toEqual([Bob]);
    const bob = await open(Bob, { unreadMode: true });
    expect(await bob.event('unread')).toMatchObject({ conversations: [{ cid: conv.cid, unread: 1, mentioned: true }] });
    const alex = await open(Alex, { unreadMode: true });
    const forAlex = (await alex.event('unread')).conversations as { mentioned?: boolean }[];
    expect(forAlex[0]).not.toHaveProperty('mentioned');
    await tom.ok('send', { cid: conv.cid, data: '@all', mentionAll: true });
    expect((await alex.event('message')).message).toMatchObject({ mentionAll: true });
    const tooMany = Array.from({ length: 21 }, (_, i) => `c${i}`);
    expect((await tom.request('send', { cid: conv.cid, data: 'x', mentions: tooMany })).error?.code).toBe(4114);
  });

  test('history by type (extension): only typed messages of that _lctype, paged as usual', async () => {
    const tom = await open(Tom);
    const conv = await conversationOf(tom, [Bob]);
    const typed = (t: number, text: string) => JSON.stringify({ _lctype: t, _lctext: text });
    for (const [t, text] of [
      [-1, 'a'],
      [-2, 'img1'],
      [-1, 'b'],
      [-2, 'img2'],
      [-2, 'img3'],
    ] as const) {
      await tom.ok('send', { cid: conv.cid, data: typed(t, text) });
    }
    await tom.ok('send', { cid: conv.cid, data: 'plain text' });
    const texts = (r: Record<string, unknown>) => (r.messages as Message[]).map((m) => (JSON.parse(m.data) as { _lctext: string })._lctext);
    const page = await tom.ok('query', { cid: conv.cid, type: -2, limit: 2 });
    expect(texts(page)).toEqual(['img2', 'img3']);
    expect(page.hasMore).toBe(true);
    const first = (page.messages as Message[])[0]!;
    expect(texts(await tom.ok('query', { cid: conv.cid, type: -2, before: { messageId: first.id } }))).toEqual(['img1']);
    // An edit that changes the type moves the message between filters.
    const [a] = (await tom.ok('query', { cid: conv.cid, type: -1, limit: 1, after: { timestamp: 0 } })).messages as Message[];
    await tom.ok('edit', { cid: conv.cid, messageId: a!.id, data: typed(-2, 'img0') });
    expect(texts(await tom.ok('query', { cid: conv.cid, type: -2 }))).toEqual(['img0', 'img1', 'img2', 'img3']);
    expect(texts(await tom.ok('query', { cid: conv.cid, type: -1 }))).toEqual(['b']);
  });

  test('clientMsgId: a resend returns the first result and delivers nothing twice', async () => {
    const tom = await open(Tom);
    const bob = await open(Bob);
    const conv = await conversationOf(tom, [Bob]);
    const first = await tom.ok('send', { cid: conv.cid, data: 'once', clientMsgId: 'c-1' });
    const again = await tom.ok('send', { cid: conv.cid, data: 'once', clientMsgId: 'c-1' });
    expect(again).toEqual(first);
    // Concurrent resends also collapse to one message.
    const racing = await Promise.all([1, 2, 3].map(() => tom.ok('send', { cid: conv.cid, data: 'race', clientMsgId: 'c-2' })));
    expect(new Set(racing.map((r) => r.messageId)).size).toBe(1);

    await bob.expectNo('nothing');
    const events = bob.take('message').map((e) => (e.message as Message).data);
    expect(events.sort()).toEqual(['once', 'race']);
    const hist = await bob.ok('query', { cid: conv.cid });
    expect((hist.messages as Message[]).map((m) => m.data)).toEqual(['once', 'race']);

    // Another sender, or another conversation, may reuse the same clientMsgId.
    const other = await bob.ok('send', { cid: conv.cid, data: 'bob', clientMsgId: 'c-1' });
    expect(other.messageId).not.toBe(first.messageId);
  });

  test('transient messages reach online members only and are never stored', async () => {
    const tom = await open(Tom);
    const bob = await open(Bob);
    const conv = await conversationOf(tom, [Bob]);
    const r = await tom.ok('send', { cid: conv.cid, data: 'typing…', transient: true });
    expect(r.seq).toBeUndefined();
    expect(typeof r.messageId).toBe('string');
    const ev = (await bob.event('message')).message as Message;
    expect(ev).toMatchObject({ id: r.messageId, data: 'typing…', transient: true, from: Tom });
    expect(ev.seq).toBeUndefined();
    expect((await bob.ok('query', { cid: conv.cid })).messages).toEqual([]);
    // The next stored message still gets seq 1: transient ones take no sequence number.
    expect((await tom.ok('send', { cid: conv.cid, data: 'real' })).seq).toBe(1);
  });

  test('unique: the same member set returns the same conversation; plain create always makes a new one', async () => {
    const tom = await open(Tom);
    const bob = await open(Bob);
    const a = await conversationOf(tom, [Bob], { unique: true });
    await bob.event('invited');
    await tom.event('invited');
    const b = await bob.ok('create', { members: [Tom], unique: true });
    expect((b.conversation as Conversation).cid).toBe(a.cid);
    await tom.expectNo('invited');
    const c = await conversationOf(tom, [Bob, Alex], { unique: true });
    expect(c.cid).not.toBe(a.cid);
    const d = await conversationOf(tom, [Bob]);
    const e = await conversationOf(tom, [Bob]);
    expect(new Set([a.cid, d.cid, e.cid]).size).toBe(3);
    // Racing unique creates agree on one conversation.
    const racing = await Promise.all([1, 2, 3].map(() => tom.ok('create', { members: [Zed], unique: true })));
    expect(new Set(racing.map((r) => (r.conversation as Conversation).cid)).size).toBe(1);
  });

  test('frames without id are fire-and-forget: the work is done, no reply is sent', async () => {
    const tom = await open(Tom);
    const bob = await open(Bob);
    const conv = await conversationOf(tom, [Bob]);
    tom.send({ action: 'send', cid: conv.cid, data: 'no id' });
    tom.send({ action: 'send', cid: 'nope', data: 'fails silently' });
    expect(((await bob.event('message')).message as Message).data).toBe('no id');
    await tom.expectNo('x');
    expect(tom.frames.filter((f) => f.reply !== undefined && f.id === undefined)).toEqual([]);
  });

  test('offline messages arrive after the open reply, oldest first, until acked', async () => {
    const tom = await open(Tom);
    const bob = await open(Bob);
    const conv = await conversationOf(tom, [Bob]);
    await bob.close();
    const sent = [];
    for (const data of ['while', 'you', 'were away']) sent.push(await tom.ok('send', { cid: conv.cid, data }));

    const bob2 = h.track(await TestClient.connect(h.url));
    const order: string[] = [];
    bob2.ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Frame;
      order.push(f.reply !== undefined ? `reply:${String(f.reply)}` : `event:${String(f.event)}`);
    });
    await bob2.ok('open', { clientId: Bob });
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await bob2.event('message')).message as Message);
    expect(order.slice(0, 2)).toEqual(['reply:open', 'event:message']);
    expect(got.map((m) => m.data)).toEqual(['while', 'you', 'were away']);
    expect(got.every((m) => m.offline === true)).toBe(true);

    // Not acked: they come again at the next login.
    await bob2.close();
    const bob3 = await open(Bob);
    expect(((await bob3.event('message')).message as Message).data).toBe('while');
    await bob3.event('message');
    await bob3.event('message');
    await bob3.ok('ack', { cid: conv.cid, messageIds: got.map((m) => m.id) });
    await bob3.close();
    const bob4 = await open(Bob);
    await bob4.expectNo('message');
    // Tom never gets his own messages as offline messages.
    await tom.close();
    const tom2 = await open(Tom);
    await tom2.expectNo('message');
  });

  test('data limit is counted in UTF-8 bytes', async () => {
    const tom = await open(Tom);
    const conv = await conversationOf(tom, [Bob]);
    const max = h.stack.config.maxMessageBytes;
    const fits = '中'.repeat(Math.floor(max / 3));
    expect((await tom.request('send', { cid: conv.cid, data: fits })).ok).toBe(true);
    const over = await tom.request('send', { cid: conv.cid, data: '中'.repeat(Math.floor(max / 3) + 1) });
    expect(over.error).toMatchObject({ code: 4109, name: 'FRAME_TOO_LONG' });
    const exact = await tom.request('send', { cid: conv.cid, data: 'a'.repeat(max) });
    expect(exact.ok).toBe(true);
  });
});
