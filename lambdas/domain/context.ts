/**
 * What every use case runs with: the per-request context and the ports it reaches the world
 * through. The domain defines these types and the runtime (lambdas/runtime/) builds them, so the
 * domain never depends on the Lambda shell; stores and adapters take a `Ctx` too.
 */
import type { ConnectionGateway } from '../gateways/connection-gateway';
import type { WorkerName } from '../../lib/routes';
import type { TableName } from '../../lib/tables';
import type { Db } from '../stores/dynamo';
import type { EventEncoder } from '../protocol/events';
import type { WireProtocol } from '../protocol/subprotocols';

/** Per-invocation context shared by the core functions. */
export interface Ctx {
  deps: Deps;
  connectionId: string;
  gateway: ConnectionGateway;
  log: Logger;
  /** Time of this request, read once so one request sees one clock. */
  now: number;
}

/** A result plus work that must reach the client after the reply (offline messages after `open`). */
export class WithFollowUp {
  constructor(
    readonly result: object,
    readonly followUp: () => Promise<void>,
  ) {}
}

export interface Deps {
  /** How events are written for each wire protocol (the LeanCloud one is wired in by the composition root). */
  encoders: Record<WireProtocol, EventEncoder>;
  config: Config;
  db: Db;
  /** The Management API for the API (and stage) an event came through. */
  gatewayFor(endpoint: { domainName?: string; stage?: string }): ConnectionGateway;
  log: Logger;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  now(): number;
  /** Mobile push endpoints (SNS on AWS); undefined when no push platform is configured. */
  push: PushEndpoints | undefined;
  /** Starts a worker (lib/routes.ts WORKERS) without waiting for it: async Lambda invoke on AWS. */
  invokeWorker(name: WorkerName, payload: object): Promise<void>;
  /** The master keys that verify signatures: current first, then one being rotated out. */
  masterKeys(): Promise<string[]>;
}

export type PushPlatform = 'APNS' | 'APNS_SANDBOX';

/** How a publish to a push endpoint went: `gone` names why the endpoint is unusable (disabled, deleted). */
export type PublishOutcome = { published: true } | { published: false; gone: string };

/**
 * Push endpoints, one per device token under its platform's application (SNS platform endpoints
 * on AWS, gateways/push-endpoints.ts). Failures other than those the methods name propagate.
 */
export interface PushEndpoints {
  /**
   * The endpoint for `token` under the platform application `app`, enabled and naming
   * `clientId`: the existing one taken over, or a new one. `moved` (the token belonged to
   * another client until now): never the previous owner's endpoint, which is deleted, so that
   * what still names it reaches no one.
   */
  ensureEndpoint(app: string, token: string, clientId: string, opts: { moved: boolean }): Promise<string>;
  deleteEndpoint(endpoint: string): Promise<void>;
  /** One notification; `message` holds the payload per platform (push-payload.ts `snsMessage`). */
  publish(endpoint: string, message: string): Promise<PublishOutcome>;
}

export interface Config {
  appId: string;
  /** Local/test only; on AWS the key comes from Secrets Manager (`Deps.masterKeys`). */
  masterKey: string | undefined;
  /** The key being rotated out, still accepted (IM_MASTER_KEY_PREVIOUS). */
  previousMasterKey: string | undefined;
  signatureRequired: boolean;
  maxMessageBytes: number;
  pushAlert: string;
  kickPolicy: 'creator' | 'member';
  /** Most conversations one `find` may read before answering 4310. */
  findMaxCandidates: number;
  /**
   * Requests per client per 10 s: `send`, and every other limited action; and `open`s per client
   * and connection (0 = no limit).
   */
  rateLimits: { send: number; other: number; open: number };
  /** SNS platform applications per push platform; push is off for a platform without one. */
  pushPlatforms: Partial<Record<PushPlatform, string>>;
  tables: Record<TableName, string>;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}
