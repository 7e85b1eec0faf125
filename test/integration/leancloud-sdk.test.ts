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

function realtime() {
  return new Realtime({
    appId: 'local-app',
    appKey: 'local-key',
    RTMServers: [h.url],
    noBinary: true,
    // Never reach a public LeanCloud host, even on reconnect.
    server: { RTMRouter: '127.0.0.1:9', api: '127.0.0.1:9' },
  });
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
