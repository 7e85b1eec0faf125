/**
 * `npm run bench`: drives the local stack (in memory) and reports latency, throughput and
 * DynamoDB requests per message, as a table and as JSON. Reports only: nothing here asserts.
 * BENCH_N sets the number of messages (default 1000).
 */
import { performance } from 'node:perf_hooks';
import { startLocalStack, type LocalStack } from '../local/stack';
import { TestClient } from '../test/helpers/client';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Report {
  scenario: string;
  messages: number;
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

/** One-to-one: Tom sends N messages to Bob; latency = send call → Bob's message event. */
async function oneToOne(stack: LocalStack, n: number): Promise<Report> {
  const tom = await TestClient.open(stack.url, 'bench-tom');
  const bob = await TestClient.open(stack.url, 'bench-bob');
  const cid = ((await tom.ok('create', { members: ['bench-bob'] })).conversation as { cid: string }).cid;
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
  const window = Number(process.env.BENCH_WINDOW ?? 16);
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
  return {
    scenario: 'one-to-one send → receive',
    messages: n,
    latencyMsP50: round(percentile(latencies, 50)),
    latencyMsP99: round(percentile(latencies, 99)),
    messagesPerSecond: round(n / seconds, 1),
    dynamoRequestsPerSend: round(Object.values(byOp).reduce((a, b) => a + b, 0), 3),
    dynamoRequestsByOperation: byOp,
  };
}

async function main(): Promise<void> {
  const n = Number(process.env.BENCH_N ?? 1000);
  const stack = await startLocalStack({ dataDir: ':memory:', env: { ...process.env, IM_LOG_LEVEL: 'silent' } });
  try {
    const reports = [await oneToOne(stack, n)];
    console.log('\n| scenario | messages | p50 ms | p99 ms | msg/s | DynamoDB req/send | by operation |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of reports) {
      const ops = Object.entries(r.dynamoRequestsByOperation).map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(`| ${r.scenario} | ${r.messages} | ${r.latencyMsP50} | ${r.latencyMsP99} | ${r.messagesPerSecond} | ${r.dynamoRequestsPerSend} | ${ops} |`);
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
