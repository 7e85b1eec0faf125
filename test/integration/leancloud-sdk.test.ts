/**
 * The official LeanCloud JavaScript SDK (leancloud-realtime 4.3.1) against the local stack, with
 * nothing changed but its server options: login and logout, single-device tags, 1:1 text
 * messages with a native client in the same conversation, history, join/count/quit, receipts for
 * native senders, unread counts at login and chat rooms. More in leancloud-sdk-*.test.ts.
 */
import { TestClient } from '../helpers/client';
import { next, SDK_VERSIONS, useRealtime, type LcConversation, type LcMessage } from '../helpers/leancloud';
import { useStack } from '../helpers/stack';

const h = useStack();

describe.each(SDK_VERSIONS)('leancloud-realtime %s', (_version, sdk) => {
  const { TextMessage } = sdk;
  const realtime = useRealtime(h, sdk);

  test('the SDK logs in and out', async () => {
    const [Tom] = h.names('Tom');
    const client = await realtime().createIMClient(Tom);
    expect(client.id).toBe(Tom);
    await client.close();
  });

  test('a login without a client id gets one from the server (anonymous login)', async () => {
    const anonymous = await realtime().createIMClient();
    expect(anonymous.id).toMatch(/^[A-Za-z0-9_-]{20}$/);
    const [Nat] = h.names('Nat');
    const nat = h.track(await TestClient.open(h.url, Nat));
    // A real session: a native client can start a conversation with it.
    const conv = (await nat.ok('create', { members: [anonymous.id] })).conversation as { members: string[] };
    expect(conv.members).toContain(anonymous.id);
    await anonymous.close();
  });

  test('an SDK login is a real session: its client is online, and a login elsewhere with its tag kicks it', async () => {
    const [Bob] = h.names('Bob');
    const bob = await realtime().createIMClient(Bob, { tag: 'Mobile' });
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const presence = await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.presence, Key: { clientId: Bob } }));
    expect(Object.values(presence.Item!.conns as Record<string, { protocol?: string; tag?: string }>)).toEqual([
      expect.objectContaining({ protocol: 'leancloud', tag: 'Mobile' }),
    ]);
    const conflict = new Promise<unknown>((resolve) => bob.on('conflict', resolve));
    h.track(await TestClient.open(h.url, Bob, { tag: 'Mobile', deviceId: 'other-phone' }));
    // The SDK reads session/closed with code 4111 as a conflict.
    await expect(conflict).resolves.toBeDefined();
  });

  test('SDK clients create a conversation and exchange text messages; a native client is in the same conversation', async () => {
    const [Tom, Jerry, Nat] = h.names('Tom', 'Jerry', 'Nat');
    const tom = await realtime().createIMClient(Tom);
    const jerry = await realtime().createIMClient(Jerry);
    const nat = h.track(await TestClient.open(h.url, Nat));
    const received = new Promise<[LcMessage, LcConversation]>((resolve) =>
      jerry.on('message', (m, c) => resolve([m as LcMessage, c as LcConversation])),
    );

    const conv = await tom.createConversation({ members: [Jerry, Nat], name: 'Tom & Jerry', unique: true, type: 1 });
    expect(conv.id).toMatch(/^[0-9a-f]{24}$/);
    const sent = await conv.send(new TextMessage('hello'));
    expect(typeof sent.id).toBe('string');

    // Jerry's SDK looks the conversation up (conv/query) and emits the message.
    const [message, conversation] = await received;
    expect(message).toMatchObject({ from: Tom, text: 'hello' });
    expect(conversation.id).toBe(conv.id);
    expect(conversation.name).toBe('Tom & Jerry');
    expect([...conversation.members].sort()).toEqual([Jerry, Nat, Tom].sort());

    // The native client sees the SDK's typed message in the LeanCloud layout.
    const ev = await nat.event('message');
    expect(ev.message).toMatchObject({ from: Tom, cid: conv.id });
    expect(JSON.parse((ev.message as { data: string }).data)).toEqual({ _lctype: -1, _lctext: 'hello' });

    // And a native message reaches the SDK as a text message.
    const fromNative = new Promise<LcMessage>((resolve) => jerry.on('message', (m) => resolve(m as LcMessage)));
    await nat.ok('send', { cid: conv.id, data: JSON.stringify({ _lctype: -1, _lctext: 'hi from native' }) });
    expect(await fromNative).toMatchObject({ from: Nat, text: 'hi from native' });

    await Promise.all([tom.close(), jerry.close()]);
  });

  test('SDK history paging, join, count and quit, with the events the SDK emits', async () => {
    const [Tom, Jerry, Alex] = h.names('Tom', 'Jerry', 'Alex');
    const tom = await realtime().createIMClient(Tom);
    const jerry = await realtime().createIMClient(Jerry);
    const alex = await realtime().createIMClient(Alex);
    const conv = await tom.createConversation({ members: [Jerry], name: 'LeanCloud Fans', type: 1 });
    for (const t of ['one', 'two', 'three']) await conv.send(new TextMessage(t));

    const jerrysConv = await jerry.getConversation(conv.id);
    const newest = await jerrysConv.queryMessages({ limit: 2 });
    expect(newest.map((m) => m.text)).toEqual(['two', 'three']);
    const older = await jerrysConv.queryMessages({
      limit: 2,
      startMessageId: newest[0]!.id,
      startTime: newest[0]!.timestamp,
    });
    expect(older.map((m) => m.text)).toEqual(['one']);

    const joined = new Promise<{ members: string[]; initBy: string }>((resolve) =>
      tom.on('membersjoined', (p) => resolve(p as { members: string[]; initBy: string })),
    );
    const alexConv = await alex.getConversation(conv.id);
    await alexConv.join();
    const joinedPayload = await joined;
    expect(joinedPayload.members).toEqual([Alex]);
    // The SDK names the operator `invitedBy`; for a join that is the joiner.
    expect(joinedPayload).toMatchObject({ invitedBy: Alex });
    expect(await alexConv.count()).toBe(3);

    const left = new Promise<{ members: string[] }>((resolve) => tom.on('membersleft', (p) => resolve(p as { members: string[] })));
    await alexConv.quit();
    expect((await left).members).toEqual([Alex]);
    expect(await conv.count()).toBe(2);
    await Promise.all([tom.close(), jerry.close(), alex.close()]);
  });

  test("the SDK's automatic acks produce receipts for native senders", async () => {
    const [Jerry, Nat] = h.names('Jerry', 'Nat');
    const jerry = await realtime().createIMClient(Jerry);
    const got = new Promise<LcMessage>((resolve) => jerry.on('message', (m) => resolve(m as LcMessage)));
    const nat = h.track(await TestClient.open(h.url, Nat));
    const cid = ((await nat.ok('create', { members: [Jerry] })).conversation as { cid: string }).cid;
    const sent = await nat.ok('send', { cid, data: JSON.stringify({ _lctype: -1, _lctext: 'did you get it?' }), receipt: true });
    expect((await got).text).toBe('did you get it?');
    // The SDK acknowledges received messages by time range, throttled to once a second.
    expect(await nat.event('delivered', 5000)).toMatchObject({ cid, messageId: sent.messageId, by: Jerry });
    await jerry.close();
  });

  test('unread counts at SDK login, and chat rooms with count and messages', async () => {
    const [Tom, Jerry, Alex] = h.names('Tom', 'Jerry', 'Alex');
    const tom = h.track(await TestClient.open(h.url, Tom));
    const cid = ((await tom.ok('create', { members: [Jerry] })).conversation as { cid: string }).cid;
    for (const text of ['a', 'b']) await tom.ok('send', { cid, data: JSON.stringify({ _lctype: -1, _lctext: text }) });

    // Jerry logs in through the SDK (unread mode): it is told about the 2 unread messages.
    const counts = new Promise<LcConversation[]>((resolve) => {
      void realtime()
        .createIMClient(Jerry)
        .then((c) => c.on('unreadmessagescountupdate', (convs) => resolve(convs as LcConversation[])));
    });
    const updated = await counts;
    expect(updated.find((c) => c.id === cid)?.unreadMessagesCount).toBe(2);

    // Chat rooms: create, join from another SDK client, count, message.
    const alex = await realtime().createIMClient(Alex);
    const room = await alex.createChatRoom({ name: 'live' });
    expect(await room.count()).toBe(1);
    const tomSdk = await realtime().createIMClient(Tom);
    const tomRoom = await tomSdk.getConversation(room.id);
    await tomRoom.join();
    expect(await room.count()).toBe(2);
    const inRoom = new Promise<LcMessage>((resolve) => tomSdk.on('message', (m) => resolve(m as LcMessage)));
    await room.send(new TextMessage('666'));
    expect(await inRoom).toMatchObject({ from: Alex, text: '666' });
    await Promise.all([alex.close(), tomSdk.close()]);
  });

  test('several IMClients on one Realtime share its socket: each gets its own messages and events', async () => {
    const [Tom, Jerry, Nat] = h.names('Tom', 'Jerry', 'Nat');
    const rt = realtime();
    const tom = await rt.createIMClient(Tom);
    const jerry = await rt.createIMClient(Jerry);
    const nat = h.track(await TestClient.open(h.url, Nat));
    // One socket: the gateway has one connection for both clients.
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const connsOf = async (id: string) =>
      Object.keys(
        ((await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.presence, Key: { clientId: id } }))).Item?.conns as
          object | undefined) ?? {},
      );
    const [tomConn] = await connsOf(Tom);
    const [jerryConn] = await connsOf(Jerry);
    expect(jerryConn).toBe(`${tomConn}#${Jerry}`);

    const jerryGets = next<[LcMessage]>(jerry, 'message');
    const conv = await tom.createConversation({ members: [Jerry, Nat] });
    await conv.send(new TextMessage('hi Jerry'));
    expect((await jerryGets)[0]).toMatchObject({ from: Tom, text: 'hi Jerry' });
    // The native member gets it too.
    expect((await nat.event('message')).message).toMatchObject({ from: Tom });

    const tomGets = next<[LcMessage]>(tom, 'message');
    await nat.ok('send', { cid: conv.id, data: JSON.stringify({ _lctype: -1, _lctext: 'hi both' }) });
    expect((await tomGets)[0]).toMatchObject({ from: Nat, text: 'hi both' });

    // Jerry logs out; Tom's session on the same socket goes on.
    await jerry.close();
    expect(await connsOf(Jerry)).toEqual([]);
    const again = next<[LcMessage]>(tom, 'message');
    await nat.ok('send', { cid: conv.id, data: JSON.stringify({ _lctype: -1, _lctext: 'still there?' }) });
    expect((await again)[0].text).toBe('still there?');
    await tom.close();
  });

  test("a tag conflict ends only that client's session on a shared socket", async () => {
    const [Tom, Jerry] = h.names('Tom', 'Jerry');
    const rt = realtime();
    const tom = await rt.createIMClient(Tom, {}, 'Mobile');
    const jerry = await rt.createIMClient(Jerry);
    const conflict = next(tom, 'conflict');
    h.track(await TestClient.open(h.url, Tom, { tag: 'Mobile' }));
    await conflict;
    // Jerry, on the same socket, still works.
    const conv = await jerry.createConversation({ members: [Tom] });
    expect(await conv.count()).toBe(2);
    await jerry.close();
  });

  test('closing the socket ends every session on it', async () => {
    const [Tom, Jerry] = h.names('Tom', 'Jerry');
    const rt = realtime();
    await rt.createIMClient(Tom);
    await rt.createIMClient(Jerry);
    rt._close!();
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    for (let i = 0; i < 100; i++) {
      const items = await Promise.all(
        [Tom, Jerry].map((id) =>
          h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.presence, Key: { clientId: id } })),
        ),
      );
      if (items.every((r) => Object.keys((r.Item?.conns as object | undefined) ?? {}).length === 0)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('presence still lists the closed socket');
  });
});
