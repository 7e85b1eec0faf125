/**
 * The whole backend in one process: embedded DynamoDB, the local gateway, and every route
 * handler from the route table, talking through the real AWS SDK clients.
 */
import { ManagementApiGateway } from '../lambdas/gateways/connection-gateway';
import { createDb, type Db } from '../lambdas/stores/dynamo';
import { configFromEnv } from '../lambdas/runtime/config';
import { type Config, type Deps, type Logger } from '../lambdas/domain/context';
import { envMasterKeys } from '../lambdas/gateways/master-keys';
import { SnsPushEndpoints } from '../lambdas/gateways/push-endpoints';
import { createLogger, parseLogLevel } from '../lambdas/runtime/log';
import type { Handle } from '../lambdas/runtime/route';
import { ROUTES, WORKERS, type Grants } from '../lib/routes';
import { leanCloudEncoder } from '../lambdas/leancloud';
import { encodeNativeEvent } from '../lambdas/protocol/events';
import { grantCheck, scopedPorts, type GrantViolation, type OtherGrants } from './grants';
import { LOCAL_APNS_APP, LOCAL_APNS_SANDBOX_APP, LocalSns } from './sns';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { API_GATEWAY_LIMITS, LocalGateway, type GatewayLimits } from './gateway';
import { LOCAL_CREDENTIALS, LOCAL_REGION, ensureTables, startDynamo, type EmbeddedDynamo } from './dynamo';

export interface LocalStackOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Directory for DynamoDB data, or ':memory:'. */
  dataDir?: string;
  /**
   * An external DynamoDB endpoint (DynamoDB Local, a proxy, another dynalite) to use instead of
   * the embedded one; missing tables are created there. `dataDir` is then unused.
   */
  dynamoEndpoint?: string;
  /** Environment for the handlers' configuration (docs/protocol.md §14); defaults to process.env. */
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
  /** Calls a handler made outside its route's grants (refused with AccessDenied, as on AWS). */
  grantViolations: GrantViolation[];
  /** Present with `dynamoFaults: true`. */
  faults?: FaultProxy;
  /** The local SNS endpoint: its `pushes` are everything published. */
  sns: LocalSns;
  close(): Promise<void>;
}

type WorkerHandle = (payload: object, deps: Deps) => Promise<object>;

async function loadWorkers(): Promise<Map<string, WorkerHandle>> {
  const workers = new Map<string, WorkerHandle>();
  for (const w of WORKERS) {
    const mod = (await import(`../lambdas/handlers/${w.handler}`)) as { handle?: WorkerHandle };
    if (typeof mod.handle !== 'function') throw new Error(`lambdas/handlers/${w.handler} does not export handle`);
    workers.set(w.name, mod.handle);
  }
  return workers;
}

async function loadHandlers(): Promise<Map<string, Handle>> {
  const handlers = new Map<string, Handle>();
  for (const r of ROUTES) {
    const mod = (await import(`../lambdas/handlers/${r.handler}`)) as { handle?: Handle };
    if (typeof mod.handle !== 'function') throw new Error(`lambdas/handlers/${r.handler} does not export handle`);
    handlers.set(r.routeKey, mod.handle);
  }
  return handlers;
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const env = opts.env ?? process.env;
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? createLogger(parseLogLevel(env.IM_LOG_LEVEL));
  // Push works locally out of the box, against the local SNS endpoint.
  const config = configFromEnv({ IM_APNS_PLATFORM_ARN: LOCAL_APNS_APP, IM_APNS_SANDBOX_PLATFORM_ARN: LOCAL_APNS_SANDBOX_APP, ...env });
  const dynamo: EmbeddedDynamo = opts.dynamoEndpoint
    ? { endpoint: opts.dynamoEndpoint, close: async () => undefined }
    : await startDynamo(opts.dataDir ?? ':memory:');
  let gateway: LocalGateway | undefined;
  let faults: FaultProxy | undefined;
  try {
    await ensureTables(dynamo.endpoint, config.tables);
    if (opts.dynamoFaults) faults = await startFaultProxy(dynamo.endpoint);
    const dynamoRequests = new Map<string, number>();
    const grantViolations: GrantViolation[] = [];
    const dbConfig = { endpoint: faults?.endpoint ?? dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const count = (op: string) => dynamoRequests.set(op, (dynamoRequests.get(op) ?? 0) + 1);
    // Unscoped: for tests and tools that inspect tables; handlers get their route's scoped one.
    const db = createDb(dbConfig);
    const scopedDbs: Db[] = [];
    const scoped = new Map<string, Deps>();
    /** The dependencies one route or worker runs with: a DynamoDB client limited to its grants. */
    const depsFor = (scope: string, grants: Grants & OtherGrants): Deps => {
      let d = scoped.get(scope);
      if (!d) {
        const report = (v: GrantViolation) => {
          grantViolations.push(v);
          log.error('call outside the route grants (lib/routes.ts)', { ...v });
        };
        const check = grantCheck(scope, grants, config.tables, report);
        const routeDb = createDb(dbConfig, (op, input) => {
          count(op);
          check(op, input);
        });
        scopedDbs.push(routeDb);
        // Built on first use, once the push endpoints below exist.
        d = { ...deps, db: routeDb, ...scopedPorts(scope, grants, deps, report) };
        scoped.set(scope, d);
      }
      return d;
    };
    let management: ManagementApiGateway | undefined;
    let gatewayRef: LocalGateway | undefined;
    const sns = new LocalSns();
    const workers = await loadWorkers();
    let push: SnsPushEndpoints | undefined;
    const deps: Deps = {
      config,
      encoders: { native: encodeNativeEvent, leancloud: leanCloudEncoder },
      db,
      log,
      now: opts.now ?? (() => Date.now()),
      gatewayFor: () => management!,
      // Set once the port is known (the local SNS endpoint shares it).
      push: undefined,
      masterKeys: envMasterKeys(config),
      // Like an asynchronous Lambda invoke: the caller does not wait; the gateway's drain does.
      async invokeWorker(name, payload) {
        const handle = workers.get(name);
        if (!handle) throw new Error(`unknown worker ${name}`);
        const def = WORKERS.find((w) => w.name === name)!;
        gatewayRef!.track(
          handle(payload, depsFor(`worker ${name}`, def)).catch((err: unknown) => log.error('worker failed', { worker: name, err })),
        );
      },
    };
    const handlers = await loadHandlers();
    gateway = new LocalGateway({
      host,
      port: opts.port ?? 0,
      stage: 'local',
      routeKeys: new Set([...handlers.keys()].filter((k) => !k.startsWith('$'))),
      limits: { ...API_GATEWAY_LIMITS, ...opts.limits },
      log,
      extraHttp: (req, res, body) => sns.handleHttp(req, res, body),
      invoke: async (routeKey, event) => {
        const handle = handlers.get(routeKey);
        return handle
          ? handle(
              event,
              depsFor(
                routeKey,
                ROUTES.find((r) => r.routeKey === routeKey)!,
              ),
            )
          : { statusCode: 200 };
      },
    });
    gatewayRef = gateway;
    const port = await gateway.listen();
    management = new ManagementApiGateway(`http://${host}:${port}`, { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    if (Object.keys(config.pushPlatforms).length > 0) {
      // The real SNS client, talking to the local SNS endpoint (local/sns.ts).
      push = new SnsPushEndpoints({ endpoint: `http://${host}:${port}/_local/sns`, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
      deps.push = push;
    }
    const gw = gateway;
    return {
      url: `ws://${host}:${port}`,
      port,
      config,
      deps,
      gateway: gw,
      dynamoRequests,
      grantViolations,
      faults,
      sns,
      async close() {
        await gw.close();
        db.destroy();
        scopedDbs.forEach((d) => d.destroy());
        push?.destroy();
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
