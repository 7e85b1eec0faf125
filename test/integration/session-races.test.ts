/**
 * Races around sessions (issue #12: no race undoes a rule): two logins with one tag at once,
 * logout while the open's follow-up registers the push device, re-opens of a bound session, and
 * connection records written after `$disconnect`. Each race runs for many rounds, since one round
 * may happen to run in an order that hides the bug.
 */
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { RawData } from 'ws';
import { TestClient, type Frame } from '../helpers/client';
import { RawLeanCloud } from '../helpers/leancloud';
import { useStack } from '../helpers/stack';

const h = useStack();
const ROUNDS = 20;

let requestN = 0;
/** Sends `open` and resolves with its reply, or 'closed' when the socket closes first. */
function openOutcome(c: TestClient, fields: Frame): Promise<Frame | 'closed'> {
  const id = `race-${++requestN}`;
  return new Promise((resolve) => {
    const onMessage = (data: RawData) => {
      const f = JSON.parse(data.toString()) as Frame;
      if (f.id !== id || f.reply === undefined) return;
      done();
      resolve(f);
    };
    const onClose = () => {
      done();
      resolve('closed');
    };
    const done = () => {
      c.ws.off('message', onMessage);
      c.ws.off('close', onClose);
    };
    c.ws.on('message', onMessage);
    c.ws.on('close', onClose);
    c.send({ action: 'open', id, ...fields });
  });
}

async function presenceOf(clientId: string): Promise<Record<string, { tag?: string; deviceId?: string }>> {
  const res = await h.stack.deps.db.send(
    new GetCommand({ TableName: h.stack.config.tables.presence, Key: { clientId }, ConsistentRead: true }),
  );
  return (res.Item?.conns ?? {}) as Record<string, { tag?: string; deviceId?: string }>;
}

const errorCode = (outcome: Frame | 'closed') =>
  outcome === 'closed' ? undefined : (outcome.error as { code?: number } | undefined)?.code;

describe('two logins with the same tag at once (item 5)', () => {
  test.each([
    ['two new logins from different devices', { deviceId: 'phone-a' }, { deviceId: 'phone-b' }],
    ['a new login and an automatic reconnect', { deviceId: 'phone-a' }, { deviceId: 'phone-b', reconnect: true }],
    ['the same device twice', { deviceId: 'phone' }, { deviceId: 'phone' }],
  ])('%s: exactly one session survives, every round', async (_what, first, second) => {
    for (let round = 0; round < ROUNDS; round++) {
      const [Tom] = h.names('Tom');
      const a = h.track(await TestClient.connect(h.url));
      const b = h.track(await TestClient.connect(h.url));
      const [ra, rb] = await Promise.all([
        openOutcome(a, { clientId: Tom, tag: 'mobile', ...first }),
        openOutcome(b, { clientId: Tom, tag: 'mobile', ...second }),
      ]);
      await h.stack.gateway.drain();
      const live = Object.values(await presenceOf(Tom));
      expect(live).toHaveLength(1);

      // The loser was refused (a reconnect: 4111, its socket stays up) or replaced (its socket closes).
      let winner: TestClient;
      if (errorCode(ra) === 4111 || errorCode(rb) === 4111) {
        winner = errorCode(ra) === 4111 ? b : a;
      } else {
        const closedFirst = await Promise.race([a.closed.then(() => a), b.closed.then(() => b)]);
        winner = closedFirst === a ? b : a;
        const told = closedFirst.frames.filter((f) => f.event === 'closed');
        if (first.deviceId === second.deviceId) expect(told).toEqual([]);
        else expect(told).toEqual([{ event: 'closed', code: 4111, name: 'SESSION_CONFLICT' }]);
      }
      expect(live[0]!.deviceId).toBe(winner === a ? first.deviceId : second.deviceId);
      expect(winner.closeCode).toBeUndefined();
      expect(await isBound(winner)).toBe(true);
      await winner.expectNo('closed');
    }
  });

  test('two LeanCloud peer sessions with one tag at once: one ends, the sockets and their other clients stay', async () => {
    for (let round = 0; round < 10; round++) {
      const [Tom, Jerry, Nat] = h.names('Tom', 'Jerry', 'Nat');
      const sockets = await Promise.all([RawLeanCloud.connect(h.url), RawLeanCloud.connect(h.url)]);
      try {
        const owners = [Jerry, Nat];
        for (const [i, s] of sockets.entries()) {
          expect(await s.request({ cmd: 'session', op: 'open', peerId: owners[i], sessionMessage: {} })).toMatchObject({ op: 'opened' });
        }
        // Tom is a further client on each socket (a peer session).
        const replies = await Promise.all(
          sockets.map((s, i) =>
            s.request({ cmd: 'session', op: 'open', peerId: Tom, sessionMessage: { tag: 'Mobile', deviceId: `lc-${i}` } }),
          ),
        );
        await h.stack.gateway.drain();
        const live = Object.values(await presenceOf(Tom));
        expect(live).toHaveLength(1);
        const winner = live[0]!.deviceId === 'lc-0' ? 0 : 1;
        expect(replies[winner]).toMatchObject({ op: 'opened' });
        // The other socket's Tom session ended: told session/closed 4111, or its open failed with 4111.
        const loser = sockets[1 - winner]!;
        const loserReply = replies[1 - winner]!;
        const told = loser.received.filter((c) => c.cmd === 'session' && c.op === 'closed' && c.peerId === Tom);
        if (loserReply.cmd === 'error') expect(loserReply.errorMessage).toMatchObject({ code: 4111 });
        else expect(told).toMatchObject([{ sessionMessage: { code: 4111 } }]);
        // The socket's own clients still have their sessions.
        for (const [i, s] of sockets.entries()) {
          const online = await s.request({
            cmd: 'session',
            op: 'query',
            peerId: owners[i],
            sessionMessage: { sessionPeerIds: [owners[i]] },
          });
          expect(online).toMatchObject({ op: 'query_result', sessionMessage: { onlineSessionPeerIds: [owners[i]] } });
        }
      } finally {
        for (const s of sockets) s.close();
      }
    }
  });
});

/** Whether the connection has a session (4105 for any session action otherwise). */
async function isBound(c: TestClient): Promise<boolean> {
  return (await c.request('query', { cid: 'x' })).error?.code !== 4105;
}

let tokenN = 0;
const newToken = () => `${(++tokenN).toString(16).padStart(8, '0')}${'cd'.repeat(28)}`;

async function devicesOf(clientId: string): Promise<Record<string, { token: string }>> {
  const res = await h.stack.deps.db.send(
    new GetCommand({ TableName: h.stack.config.tables.devices, Key: { clientId }, ConsistentRead: true }),
  );
  return (res.Item?.devices ?? {}) as Record<string, { token: string }>;
}

/** Everything the local SNS endpoint published since the last call, once background work finished. */
async function pushes(): Promise<{ token: string }[]> {
  await h.stack.gateway.drain();
  const res = await fetch(`http://127.0.0.1:${h.stack.port}/_local/pushes`);
  const list = (await res.json()) as { token: string }[];
  await fetch(`http://127.0.0.1:${h.stack.port}/_local/pushes`, { method: 'DELETE' });
  return list;
}

/** A message from a fresh client to each of `clientIds`, which are offline: any push is a leak. */
async function messageTo(clientIds: string[]): Promise<void> {
  const [Tom] = h.names('Tom');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const cid = ((await tom.ok('create', { members: clientIds })).conversation as { cid: string }).cid;
  await tom.ok('send', { cid, data: 'after logout' });
}

describe('no pushes after logout (item 6)', () => {
  beforeEach(async () => {
    await pushes();
  });

  test('close as soon as the open reply arrives: the device the open registers afterwards is unregistered', async () => {
    const bobs: string[] = [];
    for (let round = 0; round < 10; round++) {
      const [Bob] = h.names('Bob');
      bobs.push(Bob);
      const c = h.track(await TestClient.connect(h.url));
      expect((await c.request('open', { clientId: Bob, deviceToken: newToken() })).ok).toBe(true);
      expect((await c.request('close')).ok).toBe(true);
      await h.stack.gateway.drain();
      expect(await devicesOf(Bob)).toEqual({});
      await c.close();
    }
    await h.stack.gateway.drain();
    await messageTo(bobs);
    expect(await pushes()).toEqual([]);
  });

  test('a device registered on an earlier connection and named by deviceId on this one is unregistered by close', async () => {
    const [Bob] = h.names('Bob');
    const first = await TestClient.open(h.url, Bob, { deviceToken: newToken(), deviceId: 'phone' });
    await h.stack.gateway.drain();
    await first.close();
    await h.stack.gateway.drain();
    expect(Object.keys(await devicesOf(Bob))).toEqual(['phone']);
    // The app comes back without its token this time, then logs out.
    const second = h.track(await TestClient.open(h.url, Bob, { deviceId: 'phone' }));
    await second.ok('close');
    await h.stack.gateway.drain();
    expect(await devicesOf(Bob)).toEqual({});
    await second.close();
    await h.stack.gateway.drain();
    await messageTo([Bob]);
    expect(await pushes()).toEqual([]);
  });

  test('two tokens opened on one connection: close unregisters both', async () => {
    const [Bob] = h.names('Bob');
    const c = h.track(await TestClient.open(h.url, Bob, { deviceToken: newToken() }));
    await h.stack.gateway.drain();
    await c.ok('open', { clientId: Bob, deviceToken: newToken() });
    await h.stack.gateway.drain();
    expect(Object.keys(await devicesOf(Bob))).toHaveLength(2);
    await c.ok('close');
    await h.stack.gateway.drain();
    expect(await devicesOf(Bob)).toEqual({});
    await c.close();
    await h.stack.gateway.drain();
    await messageTo([Bob]);
    expect(await pushes()).toEqual([]);
  });
});

describe('re-opening a bound session (item 9)', () => {
  test.each([
    ['offline messages', false, 'message', 5],
    ['the unread summary', true, 'unread', 1],
  ])('re-opens answer the reply only: %s are not sent again', async (_what, unreadMode, event, once) => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = h.track(await TestClient.open(h.url, Tom));
    const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    for (let i = 0; i < 5; i++) await tom.ok('send', { cid, data: `m${i}` });
    const bob = h.track(await TestClient.open(h.url, Bob, { unreadMode }));
    for (let i = 0; i < 10; i++) expect((await bob.request('open', { clientId: Bob, unreadMode })).ok).toBe(true);
    await h.stack.gateway.drain();
    await bob.request('ping');
    expect(bob.take(event)).toHaveLength(once);
  });
});

describe('connection records after $disconnect (item 10)', () => {
  test('a socket closed while its open runs leaves no record, and no record lacks its expiry', async () => {
    const bobs: string[] = [];
    const sockets: TestClient[] = [];
    for (let round = 0; round < 15; round++) {
      const [Bob, Amy] = h.names('Bob', 'Amy');
      bobs.push(Bob, Amy);
      // Closed right behind the open frame: $disconnect races the whole open.
      const early = await TestClient.connect(h.url);
      early.send({ action: 'open', id: 'o', clientId: Bob, deviceToken: newToken() });
      void early.close();
      // Closed as soon as the reply arrives: $disconnect races the open's follow-up.
      const late = await TestClient.connect(h.url);
      expect((await late.request('open', { clientId: Amy, deviceToken: newToken() })).ok).toBe(true);
      void late.close();
      sockets.push(early, late);
    }
    await Promise.all(sockets.map((s) => s.closed));
    await h.stack.gateway.drain();
    const items = (await h.stack.deps.db.send(new ScanCommand({ TableName: h.stack.config.tables.connections, ConsistentRead: true })))
      .Items!;
    expect(items.filter((i) => typeof i.expiresAt !== 'number')).toEqual([]);
    expect(items.filter((i) => bobs.includes(i.clientId as string))).toEqual([]);
    for (const id of bobs) expect(await presenceOf(id)).toEqual({});
  });
});

describe('the open budget (item 9)', () => {
  let clock = Date.UTC(2026, 10, 26, 12, 0, 0);
  const limited = useStack({ now: () => clock, env: { IM_RATE_OPEN_PER_10S: '3' } });

  test('IM_RATE_OPEN_PER_10S opens per client and connection in a window, then 4116; the session stays; the next window resets', async () => {
    const [Bob] = limited.names('Bob');
    const c = limited.track(await TestClient.connect(limited.url));
    for (let i = 0; i < 3; i++) expect((await c.request('open', { clientId: Bob })).ok).toBe(true);
    expect((await c.request('open', { clientId: Bob })).error).toMatchObject({ code: 4116, name: 'MESSAGE_SENT_QUOTA_EXCEEDED' });
    expect((await c.request('query', { cid: 'x' })).error?.code).not.toBe(4105);
    // Another connection of the same client has a budget of its own.
    const other = limited.track(await TestClient.connect(limited.url));
    expect((await other.request('open', { clientId: Bob })).ok).toBe(true);
    clock += 10_000;
    expect((await c.request('open', { clientId: Bob })).ok).toBe(true);
  });
});
