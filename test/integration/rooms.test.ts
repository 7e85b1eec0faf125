/** Chat rooms (docs/protocol.md §9, the seed's 开放聊天室). */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { TestClient, type Frame } from '../helpers/client';
import { useStack } from '../helpers/stack';

let clock = Date.now();
const h = useStack({ now: () => clock });
beforeEach(() => {
  clock = Date.now();
});

type Conv = { cid: string; members?: string[]; transient: boolean };
const open = async (id: string, extra: Frame = {}) => h.track(await TestClient.open(h.url, id, extra));
const roomOf = async (c: TestClient, fields: Frame = {}) =>
  (await c.ok('create', { transient: true, name: 'live', ...fields })).conversation as Conv;
const count = async (c: TestClient, cid: string) => (await c.ok('count', { cid })).count;

describe('chat rooms', () => {
  test('create, join, count; messages reach the connections in the room only; no membership events', async () => {
    const [Host, Viewer, Other] = h.names('Host', 'Viewer', 'Other');
    const host = await open(Host);
    const room = await roomOf(host, { members: [Viewer] });
    expect(room).toMatchObject({ transient: true, creator: Host });
    expect(room.members).toBeUndefined();
    expect(await count(host, room.cid)).toBe(1);

    const viewer = await open(Viewer);
    const viewerOtherDevice = await open(Viewer);
    const other = await open(Other);
    const joined = (await viewer.ok('join', { cid: room.cid })).conversation as Conv;
    expect(joined.members).toBeUndefined();
    expect(await count(other, room.cid)).toBe(2);

    const sent = await host.ok('send', { cid: room.cid, data: '666', receipt: true });
    expect(sent.seq).toBe(1);
    const ev = (await viewer.event('message')).message as Record<string, unknown>;
    expect(ev).toMatchObject({ id: sent.messageId, from: Host, data: '666', seq: 1 });
    expect(ev.receipt).toBeUndefined();
    // Rooms are per connection: the viewer's other device is not in the room.
    for (const c of [host, viewerOtherDevice, other]) await c.expectNo('message');
    for (const c of [host, viewer, viewerOtherDevice, other]) {
      for (const e of ['invited', 'membersAdded', 'membersRemoved', 'kicked']) await c.expectNo(e);
    }
    await viewer.ok('ack', { cid: room.cid, messageIds: [String(sent.messageId)] });
    await host.expectNo('delivered');

    // History is for those in the room.
    expect(((await viewer.ok('query', { cid: room.cid })).messages as { data: string }[]).map((m) => m.data)).toEqual(['666']);
    expect((await other.request('query', { cid: room.cid })).error?.code).toBe(4312);
    expect((await other.request('send', { cid: room.cid, data: 'x' })).error).toMatchObject({
      code: 4401,
      message: 'not in this chat room',
    });
    // find never reports room members.
    const found = (await other.ok('find', { where: { cid: room.cid } })).conversations as Conv[];
    expect(found[0]!.members).toBeUndefined();
  });

  test('a connection is in at most one room: joining another leaves the current one', async () => {
    const [Host, Viewer] = h.names('Host', 'Viewer');
    const host = await open(Host);
    const a = await roomOf(host);
    const b = await roomOf(host);
    expect(await count(host, a.cid)).toBe(0);
    expect(await count(host, b.cid)).toBe(1);
    const viewer = await open(Viewer);
    await viewer.ok('join', { cid: a.cid });
    await viewer.ok('join', { cid: b.cid });
    expect([await count(host, a.cid), await count(host, b.cid)]).toEqual([0, 2]);
    expect((await viewer.request('send', { cid: a.cid, data: 'x' })).error?.code).toBe(4401);
    await viewer.ok('quit', { cid: b.cid });
    expect(await count(host, b.cid)).toBe(1);
    expect((await viewer.request('send', { cid: b.cid, data: 'x' })).error?.code).toBe(4401);
  });

  test('invite, kick, mute on a room → 4314; unknown room → 4303', async () => {
    const [Host] = h.names('Host');
    const host = await open(Host);
    const room = await roomOf(host);
    for (const [action, extra] of [
      ['invite', { members: ['x'] }],
      ['kick', { members: ['x'] }],
      ['mute', {}],
      ['unmute', {}],
    ] as const) {
      expect({ action, code: (await host.request(action, { cid: room.cid, ...extra })).error?.code }).toEqual({ action, code: 4314 });
    }
    expect((await host.request('join', { cid: '000000000000000000000000' })).error?.code).toBe(4303);
  });

  test('a client that reconnects within 30 minutes is put back; after 30 minutes it is not; no offline messages', async () => {
    const [Host, Viewer] = h.names('Host', 'Viewer');
    const host = await open(Host);
    const room = await roomOf(host);
    let viewer = await open(Viewer);
    await viewer.ok('join', { cid: room.cid });
    await viewer.close();
    await h.stack.gateway.drain();
    expect(await count(host, room.cid)).toBe(1);
    await host.ok('send', { cid: room.cid, data: 'while away' });

    clock += 29 * 60 * 1000;
    viewer = h.track(await TestClient.connect(h.url));
    const r = await viewer.ok('open', { clientId: Viewer });
    expect(r.rooms).toEqual([room.cid]);
    await viewer.expectNo('message');
    expect(await count(host, room.cid)).toBe(2);
    await host.ok('send', { cid: room.cid, data: 'welcome back' });
    expect(await viewer.event('message')).toMatchObject({ message: { data: 'welcome back' } });

    await viewer.close();
    await h.stack.gateway.drain();
    clock += 31 * 60 * 1000;
    // The host's own connection record is still live (2 h); only the room memory expired.
    viewer = h.track(await TestClient.connect(h.url));
    expect((await viewer.ok('open', { clientId: Viewer })).rooms).toEqual([]);
    expect(await count(host, room.cid)).toBe(1);
  });

  test('close (logout) leaves the room for good', async () => {
    const [Host, Viewer] = h.names('Host', 'Viewer');
    const host = await open(Host);
    const room = await roomOf(host);
    const viewer = await open(Viewer);
    await viewer.ok('join', { cid: room.cid });
    await viewer.ok('close');
    expect(await count(host, room.cid)).toBe(1);
    expect((await viewer.ok('open', { clientId: Viewer })).rooms).toEqual([]);
  });

  test('fan-out survives @connections throttling and drops dead occupants', async () => {
    const [Host, V1, V2] = h.names('Host', 'V1', 'V2');
    const host = await open(Host);
    const room = await roomOf(host);
    const v1 = await open(V1);
    const v2 = await open(V2);
    await v1.ok('join', { cid: room.cid });
    await v2.ok('join', { cid: room.cid });
    // An occupant whose connection is gone (its $disconnect never ran).
    await h.stack.deps.db.send(
      new PutCommand({
        TableName: h.stack.config.tables.rooms,
        Item: {
          cid: room.cid,
          connectionId: 'ZGVhZC1jb25uZWN0aW9u',
          clientId: 'ghost',
          joinedAt: 1,
          expiresAt: Math.floor(clock / 1000) + 3600,
        },
      }),
    );
    expect(await count(host, room.cid)).toBe(4);
    h.stack.gateway.throttleNextPosts(4);
    await host.ok('send', { cid: room.cid, data: 'through the throttle' });
    for (const v of [v1, v2]) expect(await v.event('message')).toMatchObject({ message: { data: 'through the throttle' } });
    expect(await count(host, room.cid)).toBe(3);
  });
});
