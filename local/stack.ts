/**
 * The whole backend in one process: embedded DynamoDB, the local gateway, and every route
 * handler from the route table, talking through the real AWS SDK clients.
 */
import { ManagementApiGateway } from '../lambdas/adapters/connection-gateway';
import { createDb } from '../lambdas/adapters/dynamo';
import { configFromEnv, type Config } from '../lambdas/core/config';
import type { Deps } from '../lambdas/core/deps';
import { createLogger, parseLogLevel, type Logger } from '../lambdas/core/log';
import type { Handle } from '../lambdas/core/route';
import { ROUTES } from '../lib/routes';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { API_GATEWAY_LIMITS, LocalGateway, type GatewayLimits } from './gateway';
import { LOCAL_CREDENTIALS, LOCAL_REGION, ensureTables, startDynamo, type EmbeddedDynamo } from './dynamo';

export interface LocalStackOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Directory for DynamoDB data, or ':memory:'. */
  dataDir?: string;
  /** Environment for the handlers' configuration (PROTOCOL.md §14); defaults to process.env. */
  env?: Record<string, string | undefined>;
  limits?: Partial<GatewayLimits>;
  /** Clock for the handlers (tests move time with it). */
  now?: () => number;
  /** Put a fault-injecting proxy between the handlers and DynamoDB (tests). */
  dynamoFaults?: boolean;
  log?: Logger;
}

export interface LocalStack {
  url: string;
  port: number;
  config: Config;
  deps: Deps;
  gateway: LocalGateway;
  /** DynamoDB API calls made by handlers, by operation. */
  dynamoRequests: Map<string, number>;
  /** Present with `dynamoFaults: true`. */
  faults?: FaultProxy;
  close(): Promise<void>;
}

async function loadHandlers(): Promise<Map<string, Handle>> {
  const handlers = new Map<string, Handle>();
  for (const r of ROUTES) {
    const mod = (await import(`../lambdas/${r.handler}`)) as { handle?: Handle };
    if (typeof mod.handle !== 'function') throw new Error(`lambdas/${r.handler} does not export handle`);
    handlers.set(r.routeKey, mod.handle);
  }
  return handlers;
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const env = opts.env ?? process.env;
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? createLogger(parseLogLevel(env.IM_LOG_LEVEL));
  const config = configFromEnv(env);
  const dynamo: EmbeddedDynamo = await startDynamo(opts.dataDir ?? ':memory:');
  let gateway: LocalGateway | undefined;
  let faults: FaultProxy | undefined;
  try {
    await ensureTables(dynamo.endpoint, config.tables);
    if (opts.dynamoFaults) faults = await startFaultProxy(dynamo.endpoint);
    const dynamoRequests = new Map<string, number>();
    const db = createDb({ endpoint: faults?.endpoint ?? dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }, (op) =>
      dynamoRequests.set(op, (dynamoRequests.get(op) ?? 0) + 1),
    );
    let management: ManagementApiGateway | undefined;
    const deps: Deps = {
      config,
      db,
      log,
      now: opts.now ?? (() => Date.now()),
      gatewayFor: () => management!,
    };
    const handlers = await loadHandlers();
    gateway = new LocalGateway({
      host,
      port: opts.port ?? 0,
      stage: 'local',
      routeKeys: new Set([...handlers.keys()].filter((k) => !k.startsWith('$'))),
      limits: { ...API_GATEWAY_LIMITS, ...opts.limits },
      log,
      invoke: async (routeKey, event) => {
        const handle = handlers.get(routeKey);
        return handle ? handle(event, deps) : { statusCode: 200 };
      },
    });
    const port = await gateway.listen();
    management = new ManagementApiGateway(`http://${host}:${port}`, { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const gw = gateway;
    return {
      url: `ws://${host}:${port}`,
      port,
      config,
      deps,
      gateway: gw,
      dynamoRequests,
      faults,
      async close() {
        await gw.close();
        db.destroy();
        await faults?.close();
        await dynamo.close();
      },
    };
  } catch (err) {
    await gateway?.close().catch(() => undefined);
    await faults?.close();
    await dynamo.close();
    throw err;
  }
}
