/**
 * The official LeanCloud JavaScript SDK (leancloud-realtime 4.3.1) against the local stack, with
 * nothing changed but its server options. Covers what the adapter serves so far: login (session
 * open, with the unread summary of the `.3` protocol), the keep-alive echo and logout.
 */
import { TestClient } from '../helpers/client';
import { useStack } from '../helpers/stack';

// The SDK is CommonJS without bundled types.
const { Realtime } = require('leancloud-realtime') as {
  Realtime: new (opts: object) => { createIMClient(id: string): Promise<LcClient>; _close?(): void };
};
interface LcClient {
  id: string;
  close(): Promise<void>;
  on(event: string, fn: (...args: unknown[]) => void): void;
}

const h = useStack();

/** Every Realtime made by a test; their connections are torn down after each test. */
const instances: { _close?(): void }[] = [];
afterEach(() => {
  // The SDK can keep its socket and timers after its clients closed (e.g. after an unread push);
  // _close() is its own teardown.
  for (const rt of instances.splice(0)) rt._close?.();
});

function realtime() {
  const rt = new Realtime({
    appId: 'local-app',
    appKey: 'local-key',
    RTMServers: [h.url],
    noBinary: true,
    // Never reach a public LeanCloud host, even on reconnect.
    server: { RTMRouter: '127.0.0.1:9', api: '127.0.0.1:9' },
  });
  instances.push(rt);
  return rt;
}

test('the SDK logs in and out', async () => {
  const [Tom] = h.names('Tom');
  const client = await realtime().createIMClient(Tom);
  expect(client.id).toBe(Tom);
  await client.close();
});

test('an SDK login is a real session: its client is online, and a login elsewhere with its tag kicks it', async () => {
  const [Bob] = h.names('Bob');
  const bob = await (realtime() as unknown as { createIMClient(id: string, opts: object): Promise<LcClient> }).createIMClient(Bob, {
    tag: 'Mobile',
  });
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

const { TextMessage } = require('leancloud-realtime') as { TextMessage: new (text: string) => { text?: string } };

interface LcConversation {
  id: string;
  name: string;
  members: string[];
  send(message: object): Promise<{ id: string; timestamp: Date }>;
}
interface LcMessage {
  id: string;
  from: string;
  text?: string;
  cid: string;
}

test('SDK clients create a conversation and exchange text messages; a native client is in the same conversation', async () => {
  const [Tom, Jerry, Nat] = h.names('Tom', 'Jerry', 'Nat');
  const tom = (await realtime().createIMClient(Tom)) as LcClient & { createConversation(o: object): Promise<LcConversation> };
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
  type Conv = LcConversation & {
    queryMessages(o: object): Promise<LcMessage[]>;
    join(): Promise<unknown>;
    quit(): Promise<unknown>;
    count(): Promise<number>;
  };
  type Client = LcClient & { createConversation(o: object): Promise<Conv>; getConversation(id: string): Promise<Conv> };
  const tom = (await realtime().createIMClient(Tom)) as Client;
  const jerry = (await realtime().createIMClient(Jerry)) as Client;
  const alex = (await realtime().createIMClient(Alex)) as Client;
  const conv = await tom.createConversation({ members: [Jerry], name: 'LeanCloud Fans', type: 1 });
  for (const t of ['one', 'two', 'three']) await conv.send(new TextMessage(t));

  const jerrysConv = await jerry.getConversation(conv.id);
  const newest = await jerrysConv.queryMessages({ limit: 2 });
  expect(newest.map((m) => m.text)).toEqual(['two', 'three']);
  const older = await jerrysConv.queryMessages({
    limit: 2,
    beforeMessageId: newest[0]!.id,
    beforeTime: (newest[0] as unknown as { timestamp: Date }).timestamp,
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
  const rt = realtime();
  const counts = new Promise<{ id: string; unreadMessagesCount: number }[]>((resolve) => {
    const origin = rt as unknown as { createIMClient(id: string): Promise<LcClient> };
    void origin
      .createIMClient(Jerry)
      .then((c) => c.on('unreadmessagescountupdate', (convs) => resolve(convs as { id: string; unreadMessagesCount: number }[])));
  });
  const updated = await counts;
  expect(updated.find((c) => c.id === cid)?.unreadMessagesCount).toBe(2);

  // Chat rooms: create, join from another SDK client, count, message.
  type Room = LcConversation & { count(): Promise<number>; join(): Promise<unknown> };
  const alex = (await realtime().createIMClient(Alex)) as LcClient & { createChatRoom(o: object): Promise<Room> };
  const room = await alex.createChatRoom({ name: 'live' });
  expect(await room.count()).toBe(1);
  const tomSdk = (await realtime().createIMClient(Tom)) as LcClient & { getConversation(id: string): Promise<Room> };
  const tomRoom = await tomSdk.getConversation(room.id);
  await tomRoom.join();
  expect(await room.count()).toBe(2);
  const inRoom = new Promise<LcMessage>((resolve) => tomSdk.on('message', (m) => resolve(m as LcMessage)));
  await room.send(new TextMessage('666'));
  expect(await inRoom).toMatchObject({ from: Alex, text: '666' });
  await Promise.all([alex.close(), tomSdk.close()]);
});
