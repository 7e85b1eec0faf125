/** `update` (extension): a conversation's name and attributes, and the `updated` event. */
import { TestClient } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack();

type Conversation = { cid: string; name: string | null; attributes: Record<string, unknown>; updatedAt: number; createdAt: number };

test('members rename and re-attribute; the other members get updated, the acting connection does not', async () => {
  const [Tom, Bob, Eve] = h.names('Tom', 'Bob', 'Eve');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const tomPhone = h.track(await TestClient.open(h.url, Tom));
  const bob = h.track(await TestClient.open(h.url, Bob));
  const eve = h.track(await TestClient.open(h.url, Eve));
  const created = (await tom.ok('create', { members: [Bob], name: 'before', attributes: { color: 'red', size: 1 } }))
    .conversation as Conversation;

  const r = await bob.ok('update', { cid: created.cid, name: 'after', attributes: { color: 'blue', size: null, topic: { a: 1 } } });
  const updated = r.conversation as Conversation & { members: string[] };
  expect(updated).toMatchObject({ cid: created.cid, name: 'after', attributes: { color: 'blue', topic: { a: 1 } } });
  expect(updated.attributes).not.toHaveProperty('size');
  expect(updated.updatedAt).toBeGreaterThan(created.updatedAt);
  expect(updated.createdAt).toBe(created.createdAt);

  const expected = {
    cid: created.cid,
    by: Bob,
    name: 'after',
    attributes: { color: 'blue', topic: { a: 1 } },
    updatedAt: updated.updatedAt,
  };
  expect(await tom.event('updated')).toMatchObject(expected);
  expect(await tomPhone.event('updated')).toMatchObject(expected);
  await bob.expectNo('updated');
  await eve.expectNo('updated');

  // Stored: find sees the new name (the byName index follows) and the new attributes.
  const found = (await eve.ok('find', { where: { name: 'after' } })).conversations as Conversation[];
  expect(found.map((c) => c.cid)).toEqual([created.cid]);
  expect(found[0]!.attributes).toEqual({ color: 'blue', topic: { a: 1 } });
  expect((await eve.ok('find', { where: { name: 'before' } })).conversations).toEqual([]);

  // name: null removes the name.
  expect(((await tom.ok('update', { cid: created.cid, name: null })).conversation as Conversation).name).toBeNull();
});

test('refusals: non-members 4320, unknown conversation 4303, bad keys and empty updates 4114, oversize 4109', async () => {
  const [Tom, Bob, Eve] = h.names('Tom', 'Bob', 'Eve');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const eve = h.track(await TestClient.open(h.url, Eve));
  const { cid } = (await tom.ok('create', { members: [Bob] })).conversation as Conversation;
  expect((await eve.request('update', { cid, name: 'mine' })).error?.code).toBe(4320);
  expect((await tom.request('update', { cid: 'nope', name: 'x' })).error?.code).toBe(4303);
  expect((await tom.request('update', { cid })).error?.code).toBe(4114);
  expect((await tom.request('update', { cid, attributes: { 'a.b': 1 } })).error?.code).toBe(4114);
  expect((await tom.request('update', { cid, attributes: { $set: 1 } })).error?.code).toBe(4114);
  expect((await tom.request('update', { cid, attributes: { big: 'x'.repeat(5000) } })).error?.code).toBe(4109);
  expect((await tom.request('update', { cid, name: 'n'.repeat(257) })).error?.code).toBe(4114);
});

test('chat rooms: only the creator may update; nobody gets an event', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const bob = h.track(await TestClient.open(h.url, Bob));
  const { cid } = (await tom.ok('create', { transient: true, name: 'live' })).conversation as Conversation;
  await bob.ok('join', { cid });
  expect((await bob.request('update', { cid, name: 'hijacked' })).error?.code).toBe(4320);
  expect(((await tom.ok('update', { cid, name: 'live 2' })).conversation as Conversation).name).toBe('live 2');
  await bob.expectNo('updated');
});

test('concurrent updates of different keys both land', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const bob = h.track(await TestClient.open(h.url, Bob));
  const { cid } = (await tom.ok('create', { members: [Bob] })).conversation as Conversation;
  await Promise.all([
    ...Array.from({ length: 5 }, (_, i) => tom.ok('update', { cid, attributes: { [`t${i}`]: i } })),
    ...Array.from({ length: 5 }, (_, i) => bob.ok('update', { cid, attributes: { [`b${i}`]: i } })),
  ]);
  const [conv] = (await tom.ok('find', { where: { cid } })).conversations as Conversation[];
  expect(Object.keys(conv!.attributes).sort()).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 't0', 't1', 't2', 't3', 't4']);
});
