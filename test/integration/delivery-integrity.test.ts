/**
 * Races against the delivered and read points (docs/delivery.md): acks that arrive before a
 * backlog was delivered, a resend that fills a seq others already passed, a resend's stored
 * fields, and `read` racing a send. Each reproduces a loss the points used to allow.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { TestClient, type Frame } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack({ dynamoFaults: true });
beforeEach(() => h.stack.faults!.clear());

type Msg = { id: string; cid: string; from: string; data: string; seq: number; offline?: boolean; mentions?: string[] };
const open = async (id: string, extra: Frame = {}) => h.track(await TestClient.open(h.url, id, extra));
const cidOf = async (c: TestClient, fields: Frame) => ((await c.ok('create', fields)).conversation as { cid: string }).cid;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every message event a client receives from now on, in arrival order, acked as it arrives. */
function collectAndAck(c: TestClient, into: Msg[]): void {
  c.ws.on('message', (raw) => {
    const f = JSON.parse(raw.toString()) as Frame;
    if (f.event !== 'message') return;
    const m = f.message as Msg;
    into.push(m);
    c.send({ action: 'ack', cid: m.cid, messageIds: [m.id] });
  });
}

/** Offline messages follow the `open` reply one by one: waits until none arrived for a while (bounded). */
async function quiet(got: Msg[]): Promise<void> {
  let last = -1;
  for (let i = 0; i < 100 && got.length !== last; i++) {
    last = got.length;
    await sleep(250);
  }
}

/** Logs in (default mode) until a login brings no message it has not seen; returns the ids seen. */
async function drainLogins(clientId: string, seen: Set<string>, rounds = 10): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const got: Msg[] = [];
    const c = await TestClient.connect(h.url);
    collectAndAck(c, got);
    await c.ok('open', { clientId });
    await quiet(got);
    await c.close();
    const fresh = got.filter((m) => !seen.has(m.id));
    got.forEach((m) => seen.add(m.id));
    if (fresh.length === 0) return;
  }
}

/** A send that fails with 4200 after its seq was taken: the message put is refused once. */
async function failAfterSeq(c: TestClient, fields: Frame): Promise<void> {
  h.stack.faults!.inject({ operation: 'PutItem', table: h.stack.config.tables.messages, times: 1, errorType: 'ValidationException' });
  const r = await c.request('send', fields);
  expect(r.error?.code).toBe(4200);
  h.stack.faults!.clear();
}

describe('the delivered point never passes a message the member was not sent', () => {
  test('an ack of a live message before the backlog arrived skips nothing', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const cid = await cidOf(tom, { members: [Bob] });
    const backlog: string[] = [];
    for (let i = 0; i < 30; i++) backlog.push(String((await tom.ok('send', { cid, data: `b${i}` })).messageId));
    // A connection that gets no backlog (unread mode) receives and acks a live message.
    const phone = await open(Bob, { unreadMode: true });
    await phone.event('unread');
    const live = await tom.ok('send', { cid, data: 'live' });
    expect(((await phone.event('message')).message as Msg).id).toBe(live.messageId);
    await phone.ok('ack', { cid, messageIds: [String(live.messageId)] });
    // The backlog is still owed: the next default-mode login delivers all of it, not the acked one.
    const seen = new Set<string>();
    await drainLogins(Bob, seen);
    for (const id of backlog) expect(seen).toContain(id);
    expect(seen).not.toContain(live.messageId);
  });

  test('logins racing a stream of live messages, acking each as it arrives, lose none', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const cid = await cidOf(tom, { members: [Bob] });
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) sent.push(String((await tom.ok('send', { cid, data: `b${i}` })).messageId));
    for (let i = 0; i < 10; i++) {
      const other = await cidOf(tom, { members: [Bob] });
      sent.push(String((await tom.ok('send', { cid: other, data: `o${i}` })).messageId));
    }
    let stop = false;
    // Several senders without pauses: live messages reach Bob while each login's backlog is read.
    const streams = [0, 1, 2].map(async (k) => {
      for (let i = 0; !stop && i < 300; i++) sent.push(String((await tom.ok('send', { cid, data: `live${k}.${i}` })).messageId));
    });
    const got: Msg[] = [];
    for (let login = 0; login < 4; login++) {
      const bob = await TestClient.connect(h.url);
      collectAndAck(bob, got);
      await bob.ok('open', { clientId: Bob, ...(login % 2 ? { unreadMode: true } : {}) });
      await sleep(150);
      await bob.close();
    }
    stop = true;
    await Promise.all(streams);
    const seen = new Set(got.map((m) => m.id));
    await drainLogins(Bob, seen);
    expect(sent.filter((id) => !seen.has(id))).toEqual([]);
  });

  test('a resend that fills a seq another member already acked past still reaches that member', async () => {
    const [Amy, Cat, Bob] = h.names('Amy', 'Cat', 'Bob');
    const amy = await open(Amy);
    const cat = await open(Cat);
    const cid = await cidOf(amy, { members: [Cat, Bob] });
    await failAfterSeq(amy, { cid, data: 'important', clientMsgId: 'imp' });
    const bob = await open(Bob);
    const second = await cat.ok('send', { cid, data: 'second' });
    expect(((await bob.event('message')).message as Msg).id).toBe(second.messageId);
    await bob.ok('ack', { cid, messageIds: [String(second.messageId)] });
    const resent = await amy.ok('send', { cid, data: 'important', clientMsgId: 'imp' });
    // Stored after the point Bob acked: never under the seq it passed.
    expect(resent.seq as number).toBeGreaterThan(second.seq as number);
    // (A login's offline delivery may still bring "second" again meanwhile: at least once.)
    await bob.waitFor((f) => f.event === 'message' && (f.message as Msg).id === resent.messageId);
    await bob.close();
    const history = (await cat.ok('query', { cid })).messages as Msg[];
    expect(history.map((m) => m.data)).toEqual(['second', 'important']);
    // The same clientMsgId keeps answering with where the message ended up.
    expect(await amy.ok('send', { cid, data: 'important', clientMsgId: 'imp' })).toEqual(resent);
  });

  test('acks in any order: the point moves once the earlier ones are acked too, and nothing is delivered twice', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const cid = await cidOf(tom, { members: [Bob] });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(String((await tom.ok('send', { cid, data: `m${i}` })).messageId));
    const mine = await open(Bob, { unreadMode: true });
    // Bob's own message between them does not need an ack.
    const own = String((await mine.ok('send', { cid, data: 'mine' })).messageId);
    ids.push(String((await tom.ok('send', { cid, data: 'm5' })).messageId));
    await mine.ok('ack', { cid, messageIds: [ids[5]!, ids[3]!] });
    await mine.ok('ack', { cid, messageIds: [ids[0]!, ids[1]!] });
    await mine.ok('ack', { cid, messageIds: [ids[2]!] });
    const seen = new Set<string>();
    await drainLogins(Bob, seen);
    expect([...seen]).toEqual([ids[4]]);
    await mine.ok('ack', { cid, messageIds: [ids[4]!] });
    const again = new Set<string>();
    await drainLogins(Bob, again);
    expect([...again]).toEqual([]);
    expect(own).toBeTruthy();
  });
});

describe('a resend stores exactly what the first attempt would have', () => {
  test('mentions and the message type survive a 4200 and the resend', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const cid = await cidOf(tom, { members: [Bob] });
    const data = JSON.stringify({ _lctype: -1, _lctext: 'hi @bob' });
    const fields = { cid, data, clientMsgId: 'typed', mentions: [Bob], mentionAll: true };
    await failAfterSeq(tom, fields);
    const bob = await open(Bob, { unreadMode: true });
    const unread = await bob.event('unread');
    expect(unread.conversations).toEqual([]);
    const ok = await tom.ok('send', fields);
    const live = (await bob.event('message')).message as Msg;
    expect(live).toMatchObject({ id: ok.messageId, mentions: [Bob], mentionAll: true });
    const byType = (await bob.ok('query', { cid, type: -1 })).messages as Msg[];
    expect(byType.map((m) => m.id)).toEqual([ok.messageId]);
    expect(byType[0]).toMatchObject({ mentions: [Bob], mentionAll: true });
  });
});

describe('read never passes a message that is not stored yet', () => {
  test('a message stored after a read to the newest counts as unread', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const cid = await cidOf(tom, { members: [Bob] });
    await tom.ok('send', { cid, data: 'first' });
    // Tom's second send took its seq, then died before storing; Bob reads to the newest meanwhile.
    await failAfterSeq(tom, { cid, data: 'late', clientMsgId: 'late' });
    const bob = await open(Bob, { unreadMode: true });
    await bob.event('unread');
    await bob.ok('read', { cid });
    await tom.ok('send', { cid, data: 'late', clientMsgId: 'late' });
    await bob.event('message');
    await bob.close();
    const again = await open(Bob, { unreadMode: true });
    const summary = (await again.event('unread')).conversations as { cid: string; unread: number; lastMessage: Msg }[];
    expect(summary).toEqual([expect.objectContaining({ cid, unread: 1, lastMessage: expect.objectContaining({ data: 'late' }) })]);
  });

  test('void seqs never show up in history, offline delivery, unread counts or as a last message', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const cid = await cidOf(tom, { members: [Bob] });
    await failAfterSeq(tom, { cid, data: 'never', clientMsgId: 'never' });
    const bob = await open(Bob, { unreadMode: true });
    await bob.event('unread');
    await bob.ok('read', { cid });
    const scan = await h.stack.deps.db.send(
      new ScanCommand({
        TableName: h.stack.config.tables.messages,
        FilterExpression: 'cid = :c',
        ExpressionAttributeValues: { ':c': cid },
      }),
    );
    expect(scan.Items).toEqual([expect.objectContaining({ cid, seq: 1, void: true })]);
    await tom.ok('send', { cid, data: 'after' });
    await bob.close();
    expect(((await tom.ok('query', { cid })).messages as Msg[]).map((m) => m.data)).toEqual(['after']);
    const found = (await tom.ok('find', { where: { cid }, lastMessage: true })).conversations as { lastMessage: Msg }[];
    expect(found[0]!.lastMessage.data).toBe('after');
    const unread = await open(Bob, { unreadMode: true });
    expect(((await unread.event('unread')).conversations as { unread: number }[])[0]!.unread).toBe(1);
    const seen = new Set<string>();
    await drainLogins(Bob, seen);
    expect(seen.size).toBe(1);
  });
});

describe('nothing of a conversation reaches a client after its kicked or quit', () => {
  /** Every frame a client receives, in arrival order. */
  function record(c: TestClient): Frame[] {
    const frames: Frame[] = [];
    c.ws.on('message', (raw) => frames.push(JSON.parse(raw.toString()) as Frame));
    return frames;
  }
  const after = (frames: Frame[], i: number, cid: string) =>
    frames.slice(i + 1).filter((f) => f.event === 'message' && (f.message as Msg).cid === cid);

  test.each(['kick', 'quit'] as const)('%s while sends are in flight', async (how) => {
    const [Tom, Bob, Amy] = h.names('Tom', 'Bob', 'Amy');
    const tom = await open(Tom);
    const amy = await open(Amy);
    const bob = await open(Bob);
    const frames = record(bob);
    for (let round = 0; round < 20; round++) {
      const cid = await cidOf(amy, { members: [Tom, Bob] });
      let stop = false;
      const senders = [0, 1, 2].map(async () => {
        for (let i = 0; !stop && i < 200; i++) await tom.ok('send', { cid, data: `r${round}.${i}` });
      });
      await bob.event('message');
      if (how === 'kick') await amy.ok('kick', { cid, members: [Bob] });
      else await bob.ok('quit', { cid });
      await sleep(20);
      stop = true;
      await Promise.all(senders);
      await bob.ok('ping');
      // The quit's reply is the last one received (the ping's follows it).
      const replies = frames.flatMap((f, i) => (f.reply === 'quit' ? [i] : []));
      const mark = how === 'kick' ? frames.findIndex((f) => f.event === 'kicked' && f.cid === cid) : (replies.at(-1) ?? -1);
      expect(mark).toBeGreaterThanOrEqual(0);
      expect(after(frames, mark, cid)).toEqual([]);
      bob.take('message');
      bob.take('kicked');
    }
  });

  test('a client added back gets the conversation again at once', async () => {
    const [Tom, Bob, Amy] = h.names('Tom', 'Bob', 'Amy');
    const tom = await open(Tom);
    const amy = await open(Amy);
    const bob = await open(Bob);
    const cid = await cidOf(amy, { members: [Tom, Bob] });
    await amy.ok('kick', { cid, members: [Bob] });
    await bob.event('kicked');
    await amy.ok('invite', { cid, members: [Bob] });
    await bob.event('invited');
    const sent = await tom.ok('send', { cid, data: 'welcome back' });
    expect(((await bob.event('message')).message as Msg).id).toBe(sent.messageId);
  });
});

describe('a member whose own messages follow its delivered point', () => {
  test('still gets the next message from someone else at its next login', async () => {
    const [Amy, Bob] = h.names('Amy', 'Bob');
    const amy = await open(Amy);
    const bob = await open(Bob);
    const cid = await cidOf(amy, { members: [Bob] });
    // More own messages than one login reads per conversation; Amy never receives (or acks) them.
    for (let i = 0; i < 130; i++) await amy.ok('send', { cid, data: `mine ${i}` });
    await amy.close();
    const reply = await bob.ok('send', { cid, data: 'from Bob' });
    const seen = new Set<string>();
    await drainLogins(Amy, seen);
    expect([...seen]).toEqual([reply.messageId]);
  });
});

describe('a write whose response was lost', () => {
  test('the SDK retry finds its own message: the send still fans out (and stores it once)', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const bob = await open(Bob);
    const cid = await cidOf(tom, { members: [Bob] });
    h.stack.faults!.inject({
      operation: 'PutItem',
      table: h.stack.config.tables.messages,
      times: 1,
      errorType: 'InternalServerError',
      afterCommit: true,
    });
    const sent = await tom.ok('send', { cid, data: 'committed, answer lost' });
    expect(((await bob.event('message')).message as Msg).id).toBe(sent.messageId);
    expect(((await bob.ok('query', { cid })).messages as Msg[]).map((m) => m.id)).toEqual([sent.messageId]);
  });
});
