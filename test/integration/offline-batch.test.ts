/**
 * Offline delivery in `messages` frames (the `offlineBatch` extension of `open`): everything a
 * default-mode login owes, packed into frames of at most 32 KB, each message once.
 */
import { WebSocket } from 'ws';
import { TestClient, type Frame } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack();
type Msg = { id: string; cid: string; seq: number; data: string; offline?: boolean };
const open = async (id: string, extra: Frame = {}) => h.track(await TestClient.open(h.url, id, extra));
const cidOf = async (c: TestClient, fields: Frame) => ((await c.ok('create', fields)).conversation as { cid: string }).cid;

/** Raw frames as they arrive, with their sizes in bytes. */
function rawFrames(ws: WebSocket): { frame: Frame; bytes: number }[] {
  const out: { frame: Frame; bytes: number }[] = [];
  ws.on('message', (raw: Buffer) => out.push({ frame: JSON.parse(raw.toString()) as Frame, bytes: raw.length }));
  return out;
}

test('a backlog arrives in few frames of at most 32 KB, each message once, and acks work as usual', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const tom = await open(Tom);
  const sent: string[] = [];
  for (let c = 0; c < 3; c++) {
    const cid = await cidOf(tom, { members: [Bob] });
    for (let i = 0; i < 60; i++) sent.push(String((await tom.ok('send', { cid, data: `${c}.${i} ${'é'.repeat(500)}` })).messageId));
  }
  const bob = h.track(await TestClient.connect(h.url));
  const frames = rawFrames(bob.ws);
  await bob.ok('open', { clientId: Bob, offlineBatch: true });
  // 180 messages of ~1.2 KB: about seven frames; wait until all messages are in.
  for (let i = 0; i < 100 && frames.flatMap((f) => (f.frame.messages as Msg[] | undefined) ?? []).length < sent.length; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await bob.ok('ping');
  const batches = frames.filter((f) => f.frame.event === 'messages');
  expect(frames.filter((f) => f.frame.event === 'message')).toEqual([]);
  for (const b of batches) expect(b.bytes).toBeLessThanOrEqual(32 * 1024);
  expect(batches.length).toBeLessThanOrEqual(Math.ceil((sent.length * 1300) / (32 * 1024)) + 3);
  const got = batches.flatMap((b) => b.frame.messages as Msg[]);
  expect(got.map((m) => m.id).sort()).toEqual([...sent].sort());
  expect(got.every((m) => m.offline === true)).toBe(true);
  // Acked, they are not owed again; unacked ones come back, batched as asked.
  const byCid = new Map<string, string[]>();
  for (const m of got) byCid.set(m.cid, [...(byCid.get(m.cid) ?? []), m.id]);
  const [firstCid, firstIds] = [...byCid][0]!;
  for (let i = 0; i < firstIds!.length; i += 100) await bob.ok('ack', { cid: firstCid, messageIds: firstIds!.slice(i, i + 100) });
  await bob.close();
  const again = h.track(await TestClient.connect(h.url));
  const later = rawFrames(again.ws);
  await again.ok('open', { clientId: Bob, offlineBatch: true });
  for (
    let i = 0;
    i < 100 && later.flatMap((f) => (f.frame.messages as Msg[] | undefined) ?? []).length < sent.length - firstIds!.length;
    i++
  ) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await again.ok('ping');
  const redelivered = later.flatMap((f) => (f.frame.event === 'messages' ? (f.frame.messages as Msg[]) : []));
  expect(redelivered.length).toBe(sent.length - firstIds!.length);
  expect(redelivered.some((m) => m.cid === firstCid)).toBe(false);
});

test('without offlineBatch a login still gets one message frame per message', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const tom = await open(Tom);
  const cid = await cidOf(tom, { members: [Bob] });
  for (let i = 0; i < 3; i++) await tom.ok('send', { cid, data: `m${i}` });
  const bob = await open(Bob);
  for (let i = 0; i < 3; i++) expect(((await bob.event('message')).message as Msg).data).toBe(`m${i}`);
  await bob.expectNo('messages');
});
