/** `edit` and `recall` (extensions): the sender changes or takes back a stored message. */
import { RECALLED_DATA } from '../../lambdas/domain/message-edits';
import { TestClient } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack();

type Message = { id: string; data: string; timestamp: number; seq: number; updatedAt?: number; recalled?: true };

test('edit: the audience gets messageUpdated, history shows the new data, the id and timestamp stay', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const tomPhone = h.track(await TestClient.open(h.url, Tom));
  const bob = h.track(await TestClient.open(h.url, Bob));
  const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
  const sent = await tom.ok('send', { cid, data: 'helo' });
  await bob.event('message');

  const { message } = (await tom.ok('edit', { cid, messageId: sent.messageId, data: 'hello' })) as { message: Message };
  expect(message).toMatchObject({ id: sent.messageId, data: 'hello', timestamp: sent.timestamp, seq: sent.seq });
  expect(message.updatedAt).toBeGreaterThan(sent.timestamp as number);
  for (const c of [bob, tomPhone]) expect((await c.event('messageUpdated')).message).toEqual(message);
  await tom.expectNo('messageUpdated');

  const history = (await bob.ok('query', { cid })).messages as Message[];
  expect(history).toEqual([message]);
});

test('recall: data becomes the recalled type; recalling again is a no-op; a recalled message cannot be edited', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const bob = h.track(await TestClient.open(h.url, Bob));
  const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
  const sent = await tom.ok('send', { cid, data: 'oops' });
  const { message } = (await tom.ok('recall', { cid, messageId: sent.messageId })) as { message: Message };
  expect(message).toMatchObject({ id: sent.messageId, data: RECALLED_DATA, recalled: true });
  expect(JSON.parse(RECALLED_DATA)).toEqual({ _lctype: -127 });
  expect((await bob.event('messageUpdated', 5000, (f) => (f.message as Message).recalled === true)).message).toEqual(message);

  expect(((await tom.ok('recall', { cid, messageId: sent.messageId })) as { message: Message }).message).toEqual(message);
  expect((await tom.request('edit', { cid, messageId: sent.messageId, data: 'x' })).error?.code).toBe(4114);
  expect(((await bob.ok('query', { cid })).messages as Message[])[0]).toEqual(message);
});

test('refusals: someone else’s message 4403, unknown message 4404, non-member 4401, oversize 4109', async () => {
  const [Tom, Bob, Eve] = h.names('Tom', 'Bob', 'Eve');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const bob = h.track(await TestClient.open(h.url, Bob));
  const eve = h.track(await TestClient.open(h.url, Eve));
  const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
  const sent = await tom.ok('send', { cid, data: 'mine' });
  expect((await bob.request('edit', { cid, messageId: sent.messageId, data: 'yours' })).error).toMatchObject({
    code: 4403,
    name: 'OWNERSHIP_REQUIRED',
  });
  expect((await bob.request('recall', { cid, messageId: sent.messageId })).error?.code).toBe(4403);
  expect((await tom.request('recall', { cid, messageId: 'AAAAAAAAAAAA.z' })).error).toMatchObject({
    code: 4404,
    name: 'MESSAGE_NOT_FOUND',
  });
  expect((await tom.request('recall', { cid, messageId: 'not-an-id' })).error?.code).toBe(4404);
  expect((await eve.request('recall', { cid, messageId: sent.messageId })).error?.code).toBe(4401);
  expect((await tom.request('edit', { cid, messageId: sent.messageId, data: 'x'.repeat(6000) })).error?.code).toBe(4109);
  // After leaving, a sender cannot change what it sent there.
  await tom.ok('quit', { cid });
  expect((await tom.request('recall', { cid, messageId: sent.messageId })).error?.code).toBe(4401);
});

test('chat rooms: the connections in the room get the edit', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const bob = h.track(await TestClient.open(h.url, Bob));
  const cid = ((await tom.ok('create', { transient: true })).conversation as { cid: string }).cid;
  await bob.ok('join', { cid });
  const sent = await tom.ok('send', { cid, data: 'first take' });
  await bob.event('message');
  await tom.ok('edit', { cid, messageId: sent.messageId, data: 'second take' });
  expect((await bob.event('messageUpdated')).message).toMatchObject({ id: sent.messageId, data: 'second take' });
});

test('open with changesSince: the edits and recalls missed since then arrive as messageUpdated, after the unread summary', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
  const early = await tom.ok('send', { cid, data: 'early' });
  await tom.ok('edit', { cid, messageId: early.messageId, data: 'edited before Bob left' });
  const later = await tom.ok('send', { cid, data: 'later' });

  const bob = await TestClient.connect(h.url);
  const { serverTime } = (await bob.ok('open', { clientId: Bob, unreadMode: true })) as { serverTime: number };
  await bob.close();
  await h.stack.gateway.drain();
  await tom.ok('recall', { cid, messageId: later.messageId });

  const back = h.track(await TestClient.connect(h.url));
  expect((await back.request('open', { clientId: Bob, unreadMode: true, changesSince: serverTime })).ok).toBe(true);
  await back.event('unread');
  const missed = await back.event('messageUpdated');
  expect(missed.message).toMatchObject({ id: later.messageId, recalled: true });
  await h.stack.gateway.drain();
  expect(back.take('messageUpdated')).toEqual([]);
  expect((await back.request('open', { clientId: Bob, changesSince: -1 })).error?.code).toBe(4114);
});
