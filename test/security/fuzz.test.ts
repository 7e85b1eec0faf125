/**
 * Thousands of generated hostile frames (seeded, so failures reproduce) against the local stack:
 * the process stays up, every frame carrying an id is answered exactly once, no reply leaks
 * internals, and the stored data keeps its invariants.
 */
import { seededRandom } from '../helpers/random';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { TestClient } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack({ env: { IM_LOG_LEVEL: process.env.FUZZ_LOG ?? 'silent', IM_RATE_SEND_PER_10S: '0', IM_RATE_OTHER_PER_10S: '0' } });
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 2500);
const SEED = Number(process.env.FUZZ_SEED ?? 20261126);

const ACTIONS = [
  'ping',
  'open',
  'close',
  'create',
  'send',
  'ack',
  'read',
  'query',
  'join',
  'quit',
  'invite',
  'kick',
  'mute',
  'unmute',
  'count',
  'find',
  'update',
  'edit',
  'recall',
];
const FIELDS = [
  'clientId',
  'cid',
  'data',
  'members',
  'messageIds',
  'messageId',
  'attributes',
  'name',
  'where',
  'sort',
  'limit',
  'skip',
  'before',
  'transient',
  'unique',
  'receipt',
  'clientMsgId',
  'pushData',
  'tag',
  'deviceId',
  'deviceToken',
  'pushPlatform',
  'unreadMode',
  'reconnect',
  'signature',
  'id',
];
const STRINGS = [
  '',
  'Tom',
  'a b',
  '$where',
  '__proto__',
  'constructor',
  '\u0000',
  '\u202e',
  '\ud800',
  '😀'.repeat(50),
  '中'.repeat(2000),
  '"; DROP TABLE',
  ':v',
  '#k',
  'x'.repeat(70),
  '<script>',
  'AAAAAAAAAAAA.1',
  '000000000000000000000000',
];

export function generator(seed: number) {
  const r = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const value = (depth: number): unknown => {
    const k = Math.floor(r() * (depth > 6 ? 6 : 10));
    switch (k) {
      case 0:
        return pick(STRINGS);
      case 1:
        return Math.floor(r() * 2 ** 53) * (r() < 0.5 ? -1 : 1);
      case 2:
        return r() * 1e6;
      case 3:
        return r() < 0.5;
      case 4:
        return null;
      case 5:
        return String.fromCharCode(...Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 0xffff)));
      case 6:
        return Array.from({ length: Math.floor(r() * 5) }, () => value(depth + 1));
      case 7: {
        const o: Record<string, unknown> = {};
        for (let i = Math.floor(r() * 4); i > 0; i--)
          o[r() < 0.2 ? pick(['__proto__', 'constructor', '$gt', '$or', 'a.b']) : pick(FIELDS)] = value(depth + 1);
        return o;
      }
      case 8: {
        // deep nesting
        let v: unknown = 1;
        for (let i = Math.floor(r() * 40); i > 0; i--) v = r() < 0.5 ? [v] : { d: v };
        return v;
      }
      default:
        return pick(['m', 'Bob', 'Tom', 'x']);
    }
  };
  return (): { text: string; hasId: boolean } => {
    const roll = r();
    if (roll < 0.05) return { text: pick(['not json', '{', '[]', '"s"', '123', 'null', '{"action":']), hasId: false };
    const frame: Record<string, unknown> = {};
    frame.action = r() < 0.9 ? pick(ACTIONS) : value(0);
    for (let i = Math.floor(r() * 6); i > 0; i--) frame[pick(FIELDS)] = value(0);
    if (r() < 0.3) Object.defineProperty(frame, '__proto__', { value: { polluted: true }, enumerable: true });
    if (r() < 0.75) frame.id = r() < 0.85 ? `f${Math.floor(r() * 1e9)}` : value(0);
    else delete frame.id;
    const text = JSON.stringify(frame);
    // Stay under API Gateway's 32 KB frame limit: bigger frames close the socket (tested elsewhere).
    if (Buffer.byteLength(text) > 30_000) return { text: JSON.stringify({ action: 'ping', id: 'big' }), hasId: true };
    return { text, hasId: Object.prototype.hasOwnProperty.call(frame, 'id') };
  };
}

async function scan(table: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await h.stack.deps.db.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    out.push(...((res.Items ?? []) as Record<string, unknown>[]));
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

test(`${FRAMES} generated frames: alive, every id answered once, nothing leaked, invariants hold`, async () => {
  const next = generator(SEED);
  // Two opened sessions (members of a real conversation) and two bare connections.
  const tom = await TestClient.open(h.url, 'Tom');
  const bob = await TestClient.open(h.url, 'Bob');
  await tom.ok('create', { members: ['Bob'], name: 'fuzz' });
  const bare = [await TestClient.connect(h.url), await TestClient.connect(h.url)];
  const clients = [tom, bob, ...bare];
  let expected = 0;
  // The harness's own pings (numeric ids) are answered too: count them to subtract them.
  let harnessPings = 0;
  const harnessIds = new Set<string>();
  const pingAll = () =>
    Promise.all(
      clients.map(async (x) => {
        harnessPings++;
        const r = await x.request('ping', {}, 20000);
        harnessIds.add(String(r.id));
      }),
    );
  const replies: Record<string, unknown>[] = [];
  for (const c of clients) {
    c.ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      if (f.reply !== undefined) replies.push(f);
    });
  }
  for (let i = 0; i < FRAMES; i++) {
    const { text, hasId } = next();
    const c = clients[i % clients.length]!;
    c.sendRaw(text);
    if (hasId) expected++;
    // Keep a bounded number of frames in flight.
    if (i % 50 === 49) await pingAll();
  }
  // Requests run concurrently (as on API Gateway): wait for every handler, then one more ping
  // per connection so replies already sent have arrived before counting.
  await h.stack.gateway.drain();
  await pingAll();

  expect(replies.length - harnessPings).toBe(expected);
  const fuzzReplies = replies.filter((f) => !(typeof f.id === 'string' && harnessIds.has(f.id) && f.reply === 'ping' && f.ok === true));
  for (const f of fuzzReplies) {
    if (f.ok === false) {
      const e = f.error as { code: number; name: string; message: string };
      expect(typeof e.code).toBe('number');
      expect(e.message).not.toMatch(/Exception|at \w+ \(|\.ts:\d|im-[a-z]+|dynamodb|TableName/i);
    }
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();

  // Still serving.
  const after = await TestClient.open(h.url, 'After');
  expect(await after.request('ping')).toMatchObject({ ok: true });

  // Invariants: member counters match member rows, no member rows without a conversation,
  // no message beyond its conversation's sequence counter.
  const t = h.stack.config.tables;
  const [convs, members, messages] = await Promise.all([scan(t.conversations), scan(t.members), scan(t.messages)]);
  const byCid = new Map(convs.map((c) => [c.cid as string, c]));
  const counts = new Map<string, number>();
  for (const m of members) counts.set(m.cid as string, (counts.get(m.cid as string) ?? 0) + 1);
  for (const c of convs)
    if (!c.transient) expect({ cid: c.cid, members: c.memberCount }).toEqual({ cid: c.cid, members: counts.get(c.cid as string) ?? 0 });
  for (const cid of counts.keys()) expect(byCid.has(cid)).toBe(true);
  for (const m of messages) expect(m.seq as number).toBeLessThanOrEqual(byCid.get(m.cid as string)!.lastSeq as number);

  await Promise.all([...clients, after].map((c) => c.close()));
}, 120_000);
