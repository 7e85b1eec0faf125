/**
 * An HTTP proxy in front of the embedded DynamoDB that can answer chosen calls with the errors
 * AWS returns under load, so tests exercise the real SDK's retries and the core's recovery.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultRule {
  /** DynamoDB operation, e.g. `PutItem`. */
  operation: string;
  /** Only calls on this table (physical name). */
  table?: string;
  /** How many matching calls fail; later ones pass. */
  times: number;
  /** Error type; default throttling. */
  errorType?: string;
  /**
   * Let the call reach DynamoDB first and fail only its response, as when a response is lost
   * after the write committed (the SDK then retries a write that already happened).
   */
  afterCommit?: boolean;
}

export interface FaultProxy {
  endpoint: string;
  inject(rule: FaultRule): void;
  clear(): void;
  /** Calls answered with an injected error so far. */
  readonly injected: number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let rules: FaultRule[] = [];
  let injected = 0;

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const up = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    up.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      let table: string | undefined;
      try {
        table = (JSON.parse(body.toString()) as { TableName?: string }).TableName;
      } catch {
        table = undefined;
      }
      const rule = rules.find((r) => r.times > 0 && r.operation === operation && (r.table === undefined || r.table === table));
      if (!rule) return forward(req, res, body);
      rule.times--;
      injected++;
      const type = rule.errorType ?? 'ProvisionedThroughputExceededException';
      const fail = () =>
        res
          .writeHead(type === 'InternalServerError' ? 500 : 400, {
            'content-type': 'application/x-amz-json-1.0',
            'x-amzn-requestid': `fault-${injected}`,
          })
          .end(
            JSON.stringify({
              __type: `com.amazonaws.dynamodb.v20120810#${type}`,
              message: 'injected fault: rate of requests exceeds the allowed throughput',
            }),
          );
      if (!rule.afterCommit) return fail();
      const up = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          upRes.resume();
          upRes.on('end', fail);
        },
      );
      up.on('error', fail);
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    inject: (rule) => void rules.push({ ...rule }),
    clear: () => void (rules = []),
    get injected() {
      return injected;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
