/** Starts the whole local stack in-process (random port, in-memory DynamoDB) for a test file. */
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack';
import type { TestClient } from './client';

export interface StackHandle {
  readonly stack: LocalStack;
  readonly url: string;
  /** Clients opened through `track` are closed after each test. */
  track<T extends TestClient>(c: T): T;
  /**
   * Client ids unique to this test (`Tom` → `Tom_7`): tests share one stack, and offline
   * delivery would otherwise carry one test's messages into the next.
   */
  names<const N extends string[]>(...base: N): { [K in keyof N]: string };
}

let counter = 0;

export function useStack(opts: LocalStackOptions = {}): StackHandle {
  let stack: LocalStack | undefined;
  let clients: TestClient[] = [];
  beforeAll(async () => {
    // Rate limits off unless a test sets them: tests send faster than any person.
    stack = await startLocalStack({
      dataDir: ':memory:',
      ...opts,
      env: { IM_LOG_LEVEL: 'silent', IM_RATE_SEND_PER_10S: '0', IM_RATE_OTHER_PER_10S: '0', IM_RATE_OPEN_PER_10S: '0', ...opts.env },
    });
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    clients = [];
    await stack?.gateway.drain();
  });
  afterAll(async () => {
    const violations = stack?.grantViolations ?? [];
    await stack?.close();
    // A call outside a route's grants would fail with AccessDenied on AWS (local/grants.ts).
    expect(violations).toEqual([]);
  });
  return {
    get stack() {
      return stack!;
    },
    get url() {
      return stack!.url;
    },
    track(c) {
      clients.push(c);
      return c;
    },
    names(...base) {
      counter++;
      return base.map((b) => `${b}_${counter}`) as never;
    },
  };
}
