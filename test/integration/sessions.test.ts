/** Sessions across devices: several connections per client, single-device tags (docs/protocol.md §5). */
import { TestClient } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack();

describe('single-device login with tag', () => {
  test('a new login with the same tag closes the old connection with a closed event', async () => {
    const [Tom] = h.names('Tom');
    const phone = h.track(await TestClient.open(h.url, Tom, { tag: 'mobile', deviceId: 'phone-1' }));
    const tablet = h.track(await TestClient.open(h.url, Tom, { tag: 'mobile', deviceId: 'tablet-1' }));
    expect(await phone.event('closed')).toEqual({ event: 'closed', code: 4111, name: 'SESSION_CONFLICT' });
    await phone.closed;
    expect(await tablet.request('ping')).toMatchObject({ ok: true });
  });

  test('an automatic reconnect does not steal the session: it is refused with 4111', async () => {
    const [Tom] = h.names('Tom');
    const phone = h.track(await TestClient.open(h.url, Tom, { tag: 'mobile', deviceId: 'phone-1' }));
    const tablet = h.track(await TestClient.connect(h.url));
    const r = await tablet.request('open', { clientId: Tom, tag: 'mobile', deviceId: 'tablet-1', reconnect: true });
    expect(r.error).toMatchObject({ code: 4111, name: 'SESSION_CONFLICT' });
    await phone.expectNo('closed');
    // The refused connection has no session.
    expect((await tablet.request('query', { cid: 'x' })).error?.code).toBe(4105);
  });

  test('the same device coming back replaces its old connection without a closed event', async () => {
    const [Tom] = h.names('Tom');
    const old = h.track(await TestClient.open(h.url, Tom, { tag: 'mobile', deviceId: 'phone-1' }));
    const fresh = h.track(await TestClient.open(h.url, Tom, { tag: 'mobile', deviceId: 'phone-1', reconnect: true }));
    await old.closed;
    expect(old.frames.filter((f) => f.event === 'closed')).toEqual([]);
    expect(await fresh.request('ping')).toMatchObject({ ok: true });
  });

  test('different tags, or no tag, coexist', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const mobile = h.track(await TestClient.open(h.url, Tom, { tag: 'mobile' }));
    const web = h.track(await TestClient.open(h.url, Tom, { tag: 'web' }));
    const plain = h.track(await TestClient.open(h.url, Tom));
    const bob = h.track(await TestClient.open(h.url, Bob));
    const conv = (await bob.ok('create', { members: [Tom] })).conversation as { cid: string };
    await bob.ok('send', { cid: conv.cid, data: 'to all devices' });
    for (const c of [mobile, web, plain]) expect(((await c.event('message')).message as { data: string }).data).toBe('to all devices');
  });
});

describe('close', () => {
  test('after close the connection gets nothing for that client; it may open again', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = h.track(await TestClient.open(h.url, Tom));
    const bob = h.track(await TestClient.open(h.url, Bob));
    const conv = (await tom.ok('create', { members: [Bob] })).conversation as { cid: string };
    await bob.event('invited');
    await bob.ok('close');
    await tom.ok('send', { cid: conv.cid, data: 'after close' });
    await bob.expectNo('message');
    await bob.ok('open', { clientId: Bob });
    // Not acked, so it arrives as an offline message on the new session.
    expect(await bob.event('message')).toMatchObject({ message: { data: 'after close', offline: true } });
  });
});
