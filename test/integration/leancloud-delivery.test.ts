/**
 * Fan-out in each connection's own protocol: a connection that negotiated LeanCloud's
 * `lc.proto2base64.3` receives LeanCloud pushes (base64 protobuf the official SDK decodes),
 * native connections keep receiving JSON; and the changes a LeanCloud client missed while away.
 */
import { WebSocket } from 'ws';
import { TestClient } from '../helpers/client';
import { RawLeanCloud } from '../helpers/leancloud';
import { useStack } from '../helpers/stack';

const sdk = require('leancloud-realtime/proto/message-compiled').push_server.messages2 as {
  GenericCommand: { decode64(s: string): { toRaw(a: boolean, b: boolean): Record<string, unknown> } };
};

const h = useStack();

/** A raw socket with the LeanCloud subprotocol; collects text frames. */
async function leanCloudSocket(url: string): Promise<{ ws: WebSocket; frames: string[] }> {
  const ws = new WebSocket(url, ['lc.proto2base64.3']);
  const frames: string[] = [];
  ws.on('message', (d) => frames.push(d.toString()));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, frames };
}

async function until<T>(fn: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const decode = (frame: string) =>
  JSON.parse(JSON.stringify(sdk.GenericCommand.decode64(frame).toRaw(false, true))) as Record<string, unknown>;
/** The LeanCloud pushes among the frames (native JSON replies start with `{`). */
const pushes = (frames: string[]) => frames.filter((f) => !f.startsWith('{')).map(decode);

test('a LeanCloud connection gets conv/joined, direct and offline direct pushes; native peers get JSON', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const bob = await leanCloudSocket(h.url);
  bob.ws.send(JSON.stringify({ action: 'open', id: 'o', clientId: Bob }));
  await until(() => bob.frames.find((f) => f.includes('"reply":"open"')), 'open reply');
  const tom = h.track(await TestClient.open(h.url, Tom));

  const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
  const joined = await until(() => pushes(bob.frames).find((d) => d.op === 'joined'), 'joined');
  expect(joined).toMatchObject({ cmd: 'conv', op: 'joined', peerId: Bob, convMessage: { cid, initBy: Tom } });

  const sent = await tom.ok('send', { cid, data: '{"_lctext":"hello","_lctype":-1}' });
  const direct = await until(() => pushes(bob.frames).find((d) => d.cmd === 'direct'), 'direct');
  expect(direct).toMatchObject({
    cmd: 'direct',
    peerId: Bob,
    directMessage: { id: sent.messageId, cid, fromPeerId: Tom, msg: '{"_lctext":"hello","_lctype":-1}' },
  });
  // Tom's own native connection got its invitation as JSON.
  expect(await tom.event('invited')).toMatchObject({ cid });

  // Offline delivery on the next login is encoded the same way.
  bob.ws.close();
  await h.stack.gateway.drain();
  await tom.ok('send', { cid, data: 'while away' });
  const again = await leanCloudSocket(h.url);
  again.ws.send(JSON.stringify({ action: 'open', id: 'o', clientId: Bob }));
  const offline = await until(() => {
    const directs = pushes(again.frames).filter((d) => d.cmd === 'direct');
    return directs.length >= 2 ? directs : undefined;
  }, 'two offline messages');
  expect(offline.map((d) => (d.directMessage as { msg: string; offline?: boolean }).msg)).toEqual([
    '{"_lctext":"hello","_lctype":-1}',
    'while away',
  ]);
  expect(offline.every((d) => (d.directMessage as { offline?: boolean }).offline === true)).toBe(true);
  again.ws.close();
});

test('a LeanCloud login with lastPatchTime gets the edits and recalls it missed as patch pushes', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
  const before = await tom.ok('send', { cid, data: 'edited before' });
  await tom.ok('edit', { cid, messageId: before.messageId, data: 'old edit' });
  const edited = await tom.ok('send', { cid, data: 'helo' });
  const recalled = await tom.ok('send', { cid, data: 'oops' });

  // Bob was last told about changes now; then he is away while Tom edits and recalls.
  const first = await RawLeanCloud.connect(h.url);
  const opened = await first.request({ cmd: 'session', op: 'open', peerId: Bob, sessionMessage: {} });
  const serverTs = opened.serverTs as number;
  expect(serverTs).toBeGreaterThan(0);
  first.close();
  await h.stack.gateway.drain();
  await tom.ok('edit', { cid, messageId: edited.messageId, data: 'hello' });
  await tom.ok('recall', { cid, messageId: recalled.messageId });

  const back = await RawLeanCloud.connect(h.url);
  await back.request({ cmd: 'session', op: 'open', peerId: Bob, sessionMessage: { r: true, lastPatchTime: serverTs } });
  type Patch = { patches: { mid: string; data: string; recall?: boolean }[]; lastPatchTime: number };
  const pushed = await until(() => {
    const found = back.received.filter((c) => c.cmd === 'patch').map((c) => c.patchMessage as Patch);
    return found.length >= 2 ? found : undefined;
  }, 'patch pushes');
  // Only what changed after serverTs, oldest change first.
  expect(pushed.flatMap((p) => p.patches).map((p) => [p.mid, p.data, p.recall === true])).toEqual([
    [edited.messageId, 'hello', false],
    [recalled.messageId, '{"_lctype":-127}', true],
  ]);
  // Nothing missed: no push.
  const third = await RawLeanCloud.connect(h.url);
  const latest = Math.max(...pushed.map((p) => p.lastPatchTime));
  await third.request({ cmd: 'session', op: 'open', peerId: Bob, sessionMessage: { lastPatchTime: latest } });
  await h.stack.gateway.drain();
  expect(third.received.filter((c) => c.cmd === 'patch')).toEqual([]);
  back.close();
  third.close();
});
