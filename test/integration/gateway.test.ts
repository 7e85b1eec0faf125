/**
 * The local gateway behaves like API Gateway: limits and close codes, and the `@connections`
 * Management API driven by the real SDK client, including 410 GoneException for dead ids.
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { TestClient } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack({ limits: { idleTimeoutMs: 400 } });

function management(): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({
    endpoint: `http://127.0.0.1:${h.stack.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
}

/** The connection id the server assigned, read back from its own connection record. */
async function connectionIdOf(clientId: string): Promise<string> {
  const res = await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.presence, Key: { clientId } }));
  return Object.keys((res.Item?.conns ?? {}) as object)[0]!;
}

describe('limits and close codes', () => {
  test('binary frames close the socket with 1003', async () => {
    const c = h.track(await TestClient.connect(h.url));
    c.sendRaw(Buffer.from([1, 2, 3]), { binary: true });
    expect(await c.closed).toBe(1003);
  });

  test('a message over 128 KB closes with 1009', async () => {
    const c = h.track(await TestClient.connect(h.url));
    // Fragmented into 16 KB frames so only the message limit applies.
    const big = 'x'.repeat(129 * 1024);
    for (let i = 0; i < big.length; i += 16 * 1024) {
      const last = i + 16 * 1024 >= big.length;
      c.ws.send(big.slice(i, i + 16 * 1024), { fin: last, binary: false });
    }
    expect(await c.closed).toBe(1009);
  });

  test('a single frame over 32 KB closes with 1009', async () => {
    const c = h.track(await TestClient.connect(h.url));
    c.send({ action: 'ping', id: '1', pad: 'x'.repeat(33 * 1024) });
    expect(await c.closed).toBe(1009);
  });

  test('a 100 KB message in 32 KB frames is accepted', async () => {
    const c = h.track(await TestClient.connect(h.url));
    const frame = JSON.stringify({ action: 'ping', id: 'big', pad: 'x'.repeat(100 * 1024) });
    for (let i = 0; i < frame.length; i += 30 * 1024) c.ws.send(frame.slice(i, i + 30 * 1024), { fin: i + 30 * 1024 >= frame.length });
    expect(await c.waitFor((f) => f.id === 'big')).toMatchObject({ ok: true });
  });

  test('idle connections are closed (1001) after the idle timeout', async () => {
    const c = h.track(await TestClient.connect(h.url));
    expect(await c.closed).toBe(1001);
  });

  test('the disconnect removes the connection and presence records', async () => {
    const [Tom] = h.names('Tom');
    const c = await TestClient.open(h.url, Tom);
    const id = await connectionIdOf(Tom);
    c.ws.terminate();
    await new Promise((r) => setTimeout(r, 50));
    await h.stack.gateway.drain();
    const conn = await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.connections, Key: { connectionId: id } }));
    expect(conn.Item).toBeUndefined();
    const presence = await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.presence, Key: { clientId: Tom } }));
    expect(presence.Item?.conns).toEqual({});
  });
});

describe('@connections Management API (real SDK client)', () => {
  test('post, get and delete a live connection', async () => {
    const [Tom] = h.names('Tom');
    const c = h.track(await TestClient.open(h.url, Tom));
    const id = await connectionIdOf(Tom);
    expect(id).toMatch(/^[A-Za-z0-9+/]{14}==?$/);
    const api = management();
    await api.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from(JSON.stringify({ event: 'hello', n: '中文' })) }));
    expect(await c.event('hello')).toEqual({ event: 'hello', n: '中文' });
    const info = await api.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.Identity?.SourceIp).toBe('127.0.0.1');
    await api.send(new DeleteConnectionCommand({ ConnectionId: id }));
    expect(await c.closed).toBe(1000);
    await expect(api.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('x') }))).rejects.toBeInstanceOf(GoneException);
    api.destroy();
  });

  test('an unknown id is 410 GoneException', async () => {
    const api = management();
    const err = await api.send(new GetConnectionCommand({ ConnectionId: 'bm90LWEtY29ubmVjdGlvbg==' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GoneException);
    expect((err as GoneException).$metadata.httpStatusCode).toBe(410);
    api.destroy();
  });

  test('a recipient whose connection is gone is dropped from presence, and others still get the message', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = h.track(await TestClient.open(h.url, Tom));
    const bob = h.track(await TestClient.open(h.url, Bob));
    const conv = (await tom.ok('create', { members: [Bob] })).conversation as { cid: string };
    await bob.event('invited');
    // A stale presence entry, as left by a $disconnect that never ran.
    const ghost = 'Z2hvc3QtY29ubmVjdGlvbg==';
    const { addPresence } = await import('../../lambdas/stores/presence');
    const ctx = { deps: h.stack.deps, now: Date.now() } as Parameters<typeof addPresence>[0];
    await addPresence(ctx, Bob, ghost, { expiresAt: Math.floor(Date.now() / 1000) + 3600 });

    await tom.ok('send', { cid: conv.cid, data: 'still delivered' });
    expect(((await bob.event('message')).message as { data: string }).data).toBe('still delivered');
    const presence = await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.presence, Key: { clientId: Bob } }));
    expect(Object.keys(presence.Item!.conns as object)).not.toContain(ghost);
    expect(Object.keys(presence.Item!.conns as object)).toHaveLength(1);
  });
});

describe('subprotocol negotiation', () => {
  test('LeanCloud base64 protobuf is echoed and remembered; binary protobuf is not selected; native clients need none', async () => {
    const lc = h.track(await TestClient.connect(h.url, ['lc.protobuf2.3', 'lc.proto2base64.3']));
    expect(lc.ws.protocol).toBe('lc.proto2base64.3');
    const native = h.track(await TestClient.connect(h.url, ['im.json.1']));
    expect(native.ws.protocol).toBe('im.json.1');
    const plain = h.track(await TestClient.connect(h.url));
    expect(plain.ws.protocol).toBe('');
    // A client that offers only unsupported protocols gets none, and ws refuses such a handshake.
    await expect(TestClient.connect(h.url, ['lc.protobuf2.3'])).rejects.toThrow(/Server sent no subprotocol/);
    const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
    const conns = await h.stack.deps.db.send(new ScanCommand({ TableName: h.stack.config.tables.connections }));
    const protocols = (conns.Items ?? []).map((i) => i.protocol).sort();
    expect(protocols).toContain('leancloud');
    expect(protocols).toContain('native');
  });
});
