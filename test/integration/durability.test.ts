/**
 * `npm start`'s process with an on-disk data directory: every acknowledged message survives
 * SIGKILL, and a clean SIGTERM stop works.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestClient } from '../helpers/client';
import { crash, exited, killAllServers, startServer } from '../helpers/server-process';

describe('durability of the local runtime', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'im-durability-'));
  });
  afterAll(async () => {
    await killAllServers();
    rmSync(dir, { recursive: true, force: true });
  });

  test('SIGKILL in the middle of a stream of sends loses no acknowledged message', async () => {
    let server = await startServer(dir);
    const tom = await TestClient.open(server.url, 'Tom');
    const cid = ((await tom.ok('create', { members: ['Bob'] })).conversation as { cid: string }).cid;

    const acked: string[] = [];
    let stop = false;
    const sender = (async () => {
      for (let i = 0; !stop; i++) {
        const r = await tom.request('send', { cid, data: `m${i}` }, 2000).catch(() => undefined);
        if (!r) break;
        if (r.ok) acked.push(String(r.result!.messageId));
      }
    })();
    while (acked.length < 150) await new Promise((r) => setTimeout(r, 10));
    await crash(server);
    stop = true;
    await sender;
    await tom.closed;

    server = await startServer(dir);
    const bob = await TestClient.open(server.url, 'Bob');
    const history = await bob.ok('query', { cid, limit: 1000 });
    const ids = (history.messages as { id: string }[]).map((m) => m.id);
    for (const id of acked) expect(ids).toContain(id);
    expect(new Set(ids).size).toBe(ids.length);
    // Bob never acked: login after login (100 per conversation each), with acks in between,
    // delivers every stored message exactly once and in order.
    let current = bob;
    const delivered: string[] = [];
    while (delivered.length < ids.length) {
      const batch: string[] = [];
      for (let i = 0; i < Math.min(100, ids.length - delivered.length); i++)
        batch.push(((await current.event('message')).message as { id: string }).id);
      delivered.push(...batch);
      await current.ok('ack', { cid, messageIds: batch });
      await current.close();
      current = await TestClient.open(server.url, 'Bob');
    }
    expect(delivered).toEqual(ids);
    await current.expectNo('message');
    const bob2 = current;
    await bob2.close();
    server.proc.kill('SIGTERM');
    expect(await exited(server.proc)).toBe(0);
  });
});
