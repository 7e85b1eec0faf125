/**
 * `npm run bench`: drives the local stack (in memory) and reports latency, throughput and
 * DynamoDB requests per message, as a table and as JSON. Reports only: nothing here asserts.
 * BENCH_N sets the number of one-to-one messages (default 1000), BENCH_GROUP_N the messages per
 * group size (default 30), BENCH_ROOM_SIZE / BENCH_ROOM_N the chat room load (1000 connections,
 * 10 messages).
 */
import { performance } from 'node:perf_hooks';
import { startLocalStack, type LocalStack } from '../local/stack';
import { TestClient } from '../test/helpers/client';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Report {
  scenario: string;
  messages: number;
  /** One-to-one: send → receive. Groups: send → the last member's delivery. */
  latencyMsP50: number;
  latencyMsP99: number;
  messagesPerSecond: number;
  dynamoRequestsPerSend: number;
  dynamoRequestsByOperation: Record<string, number>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

function report(scenario: string, messages: number, sortedLatencies: number[], seconds: number, byOp: Record<string, number>): Report {
  return {
    scenario,
    messages,
    latencyMsP50: round(percentile(sortedLatencies, 50)),
    latencyMsP99: round(percentile(sortedLatencies, 99)),
    messagesPerSecond: round(messages / seconds, 1),
    dynamoRequestsPerSend: round(
      Object.values(byOp).reduce((a, b) => a + b, 0),
      3,
    ),
    dynamoRequestsByOperation: byOp,
  };
}

function snapshot(stack: LocalStack): Map<string, number> {
  return new Map(stack.dynamoRequests);
}

function diff(stack: LocalStack, before: Map<string, number>, per: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, n] of stack.dynamoRequests) {
    const d = n - (before.get(op) ?? 0);
    if (d > 0) out[op] = round(d / per, 3);
  }
  return out;
}

/**
 * One-to-one: Tom sends N messages to Bob with `window` sends in flight; latency = send call →
 * Bob's message event (with window 1 the pure latency, with more the latency under load).
 */
async function oneToOne(stack: LocalStack, n: number, window: number): Promise<Report> {
  const tom = await TestClient.open(stack.url, `bench-tom-${window}`);
  const bob = await TestClient.open(stack.url, `bench-bob-${window}`);
  const cid = ((await tom.ok('create', { members: [`bench-bob-${window}`] })).conversation as { cid: string }).cid;
  await bob.event('invited');
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let received = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((r) => (done = r));
  bob.ws.on('message', (d) => {
    const f = JSON.parse(d.toString()) as { event?: string; message?: { data: string } };
    if (f.event !== 'message') return;
    const t0 = sentAt.get(f.message!.data);
    if (t0 !== undefined) latencies.push(performance.now() - t0);
    if (++received === n) done();
  });

  // Warm-up so first-call costs (connections, JIT) are not measured.
  for (let i = 0; i < 20; i++) await tom.ok('send', { cid, data: `warm${i}` });
  received = -20 + received;
  const before = snapshot(stack);
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < n) {
        const data = `m${next++}`;
        sentAt.set(data, performance.now());
        await tom.ok('send', { cid, data });
      }
    }),
  );
  await all;
  const seconds = (performance.now() - start) / 1000;
  const byOp = diff(stack, before, n);
  latencies.sort((a, b) => a - b);
  await Promise.all([tom.close(), bob.close()]);
  return report(`one-to-one, ${window} in flight: send → receive`, n, latencies, seconds, byOp);
}

/** Opens `ids` as clients, `batch` at a time. */
async function openAll(stack: LocalStack, ids: string[], batch = 100): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  for (let i = 0; i < ids.length; i += batch)
    clients.push(...(await Promise.all(ids.slice(i, i + batch).map((id) => TestClient.open(stack.url, id)))));
  return clients;
}

/**
 * Sends `n` messages one after another from `sender` to `cid` and measures, per message, the time
 * from the send call to the moment every receiver has it; reports with DynamoDB requests per send.
 */
async function measureFanout(
  stack: LocalStack,
  scenario: string,
  sender: TestClient,
  receivers: TestClient[],
  cid: string,
  n: number,
): Promise<Report> {
  let pending = 0;
  let done: () => void = () => undefined;
  for (const r of receivers) {
    r.ws.on('message', (d) => {
      if (d.toString().includes('"event":"message"') && --pending === 0) done();
    });
  }
  const sendOne = async (data: string): Promise<number> => {
    pending = receivers.length;
    const all = new Promise<void>((r) => (done = r));
    const t0 = performance.now();
    await sender.ok('send', { cid, data });
    await all;
    return performance.now() - t0;
  };
  for (let i = 0; i < 3; i++) await sendOne(`warm${i}`);
  const before = snapshot(stack);
  const start = performance.now();
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) latencies.push(await sendOne(`m${i}`));
  const seconds = (performance.now() - start) / 1000;
  const byOp = diff(stack, before, n);
  latencies.sort((a, b) => a - b);
  await Promise.all([sender, ...receivers].map((c) => c.close()));
  await stack.gateway.drain();
  return report(scenario, n, latencies, seconds, byOp);
}

/**
 * Group fan-out: `size` members all online, one sender, `n` messages one after another;
 * latency = send call → the last member's message event.
 */
async function groupFanout(stack: LocalStack, size: number, n: number): Promise<Report> {
  const ids = Array.from({ length: size }, (_, i) => `bench-g${size}-${i}`);
  const [sender, ...receivers] = await openAll(stack, ids, 50);
  const cid = ((await sender!.ok('create', { members: ids.slice(1) })).conversation as { cid: string }).cid;
  await Promise.all([sender!, ...receivers].map((c) => c.event('invited', 30000)));
  return measureFanout(stack, `group of ${size}, all online: send → last delivery`, sender!, receivers, cid, n);
}

/**
 * Chat room load: `size` connections in one room, one sender; per message, the time from the
 * send call to the last delivery, and messages per second with sends back to back.
 */
async function roomLoad(stack: LocalStack, size: number, n: number): Promise<Report> {
  const [host, ...viewers] = await openAll(
    stack,
    Array.from({ length: size }, (_, i) => `bench-room-${i}`),
  );
  const cid = ((await host!.ok('create', { transient: true, name: 'bench room' })).conversation as { cid: string }).cid;
  for (let i = 0; i < viewers.length; i += 100) await Promise.all(viewers.slice(i, i + 100).map((v) => v.ok('join', { cid })));
  return measureFanout(stack, `chat room of ${size} connections: send → last delivery`, host!, viewers, cid, n);
}

/**
 * The sender's latency (send → ok) to a conversation whose other members are all online, or all
 * offline with a registered push device: push must not slow the sender down.
 */
async function sendLatencyWithPush(stack: LocalStack, members: number, offline: boolean, n: number): Promise<Report> {
  const tag = `bench-push-${members}-${offline ? 'off' : 'on'}`;
  const ids = Array.from({ length: members }, (_, i) => `${tag}-${i}`);
  const online: TestClient[] = [];
  for (const id of ids) {
    const c = await TestClient.open(stack.url, id, { deviceToken: `${tag}-token-${id}`.padEnd(64, '0') });
    if (offline) await c.close();
    else online.push(c);
  }
  await stack.gateway.drain();
  const sender = await TestClient.open(stack.url, `${tag}-sender`);
  const cid = ((await sender.ok('create', { members: ids })).conversation as { cid: string }).cid;
  for (let i = 0; i < 3; i++) await sender.ok('send', { cid, data: `warm${i}` });
  await stack.gateway.drain();
  const before = snapshot(stack);
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await sender.ok('send', { cid, data: `m${i}` });
    latencies.push(performance.now() - t0);
  }
  const seconds = (performance.now() - start) / 1000;
  await stack.gateway.drain();
  const byOp = diff(stack, before, n);
  latencies.sort((a, b) => a - b);
  await Promise.all([sender, ...online].map((c) => c.close()));
  await stack.gateway.drain();
  const who = offline ? 'all offline with a push device (push worker included in DynamoDB counts)' : 'all online';
  return report(`send → ok, ${members} other member(s) ${who}`, n, latencies, seconds, byOp);
}

async function main(): Promise<void> {
  const n = Number(process.env.BENCH_N ?? 1000);
  const groupN = Number(process.env.BENCH_GROUP_N ?? 30);
  const stack = await startLocalStack({
    dataDir: ':memory:',
    env: { ...process.env, IM_LOG_LEVEL: 'silent', IM_RATE_SEND_PER_10S: '0', IM_RATE_OTHER_PER_10S: '0' },
  });
  try {
    const reports = [await oneToOne(stack, n, 1), await oneToOne(stack, n, 16)];
    for (const size of [10, 100, 500]) reports.push(await groupFanout(stack, size, groupN));
    for (const members of [1, 100]) {
      for (const offline of [false, true])
        reports.push(await sendLatencyWithPush(stack, members, offline, Number(process.env.BENCH_PUSH_N ?? 50)));
    }
    reports.push(await roomLoad(stack, Number(process.env.BENCH_ROOM_SIZE ?? 1000), Number(process.env.BENCH_ROOM_N ?? 10)));
    console.log('\n| scenario | messages | p50 ms | p99 ms | msg/s | DynamoDB req/send | by operation |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of reports) {
      const ops = Object.entries(r.dynamoRequestsByOperation)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      console.log(
        `| ${r.scenario} | ${r.messages} | ${r.latencyMsP50} | ${r.latencyMsP99} | ${r.messagesPerSecond} | ${r.dynamoRequestsPerSend} | ${ops} |`,
      );
    }
    console.log('\n' + JSON.stringify({ node: process.version, reports }, null, 2));
  } finally {
    await stack.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
