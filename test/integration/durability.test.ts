/**
 * `npm start`'s process with an on-disk data directory: every acknowledged message survives
 * SIGKILL, and a clean SIGTERM stop works.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestClient } from '../helpers/client';

const root = join(__dirname, '..', '..');

const started: ChildProcess[] = [];
afterAll(() => started.forEach((p) => p.exitCode === null && p.kill('SIGKILL')));

function startServer(dataDir: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', 'local.ts')], {
    env: { ...process.env, PORT: '0', IM_DATA_DIR: dataDir, IM_LOG_LEVEL: 'warn', IM_RATE_SEND_PER_10S: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 20000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready: (ws:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]! });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

const exited = (p: ChildProcess) =>
  new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', (code) => r(code))));

describe('durability of the local runtime', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'im-durability-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
    server.proc.kill('SIGKILL');
    await exited(server.proc);
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
