/**
 * THE route table. Route key (the frame's `action`) → handler module under `lambdas/handlers/`,
 * plus exactly what that handler may touch. The CDK stack creates one Lambda per entry with
 * IAM built from `tables`/`indexes`/`postsToConnections`; the local gateway loads the same
 * modules. Adding a feature = one handler file + one line here.
 */
import type { TableName } from './tables';

export type Access = 'r' | 'w' | 'rw';

export interface RouteDef {
  /** API Gateway route key: `$connect`, `$disconnect`, `$default` or the frame's `action`. */
  routeKey: string;
  /** Module under `lambdas/handlers/` (without extension) exporting `handler` and `handle`. */
  handler: string;
  tables: Partial<Record<TableName, Access>>;
  /** Secondary indexes queried, as `table.index`. */
  indexes?: `${TableName}.${string}`[];
  /** Tables it may Scan (bounded by the handler); kept apart so every Scan grant is deliberate. */
  scans?: TableName[];
  /** Whether it calls the API Gateway Management API (post events, drop connections). */
  postsToConnections: boolean;
  /** SNS mobile-push actions it calls (granted only when push is configured). */
  sns?: SnsAction[];
  /** Workers it starts with an asynchronous invoke. */
  invokes?: string[];
  /** Verifies docs/protocol.md §12 signatures: reads the master key secret when signatures are on. */
  verifiesSignatures?: boolean;
}

/** The DynamoDB actions each access level grants (the stack's IAM and the local check share them). */
export const DYNAMODB_ACTIONS: Record<'r' | 'w', readonly string[]> = {
  r: ['GetItem', 'BatchGetItem', 'Query'],
  w: ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'],
};

/** What a route or worker may touch in DynamoDB. */
export type Grants = Pick<RouteDef, 'tables' | 'indexes' | 'scans'>;

export type SnsAction = 'CreatePlatformEndpoint' | 'GetEndpointAttributes' | 'SetEndpointAttributes' | 'DeleteEndpoint' | 'Publish';

/** A function that no client frame reaches: started by routes with an asynchronous invoke. */
export interface WorkerDef {
  name: string;
  /** Module under `lambdas/handlers/` exporting `handler` and `handle`. */
  handler: string;
  tables: Partial<Record<TableName, Access>>;
  indexes?: `${TableName}.${string}`[];
  /** SNS mobile-push actions it calls. */
  sns?: SnsAction[];
  /** Exists only when push is configured. */
  needsPush: boolean;
}

export const WORKERS = [
  {
    name: 'push',
    handler: 'push-worker',
    tables: { members: 'r', conversations: 'r', messages: 'r', devices: 'rw', keys: 'rw' },
    indexes: ['members.byClient'],
    sns: ['Publish', 'DeleteEndpoint'],
    needsPush: true,
  },
] as const satisfies readonly WorkerDef[];

export type WorkerName = (typeof WORKERS)[number]['name'];

/** Environment variable through which a route learns a worker's function name. */
export function workerEnvVar(name: WorkerName): string {
  return `IM_WORKER_${name.toUpperCase()}`;
}

// Every action a client can repeat at will (all but ping, open, close, ack) writes its rate
// counter to `keys`, hence `w` on keys for those.
// Every route that posts may find a connection gone and must then delete its
// `connections` item and `presence` entry, hence `rw` on both wherever `postsToConnections`.
export const ROUTES: readonly RouteDef[] = [
  { routeKey: '$connect', handler: 'connect', tables: { connections: 'w' }, postsToConnections: false },
  { routeKey: '$disconnect', handler: 'disconnect', tables: { connections: 'rw', presence: 'rw', rooms: 'w' }, postsToConnections: false },
  // $default also serves LeanCloud frames (sessions, conversations, messages, receipts), so it
  // holds the union of what the native actions they map to need.
  {
    routeKey: '$default',
    handler: 'default',
    tables: {
      connections: 'rw',
      presence: 'rw',
      members: 'rw',
      conversations: 'rw',
      messages: 'rw',
      keys: 'rw',
      rooms: 'rw',
      devices: 'rw',
    },
    indexes: ['members.byClient', 'conversations.byName', 'conversations.byCreator', 'messages.byUpdate'],
    scans: ['conversations'],
    postsToConnections: true,
    sns: ['CreatePlatformEndpoint', 'GetEndpointAttributes', 'SetEndpointAttributes', 'DeleteEndpoint'],
    invokes: ['push'],
    verifiesSignatures: true,
  },
  { routeKey: 'ping', handler: 'ping', tables: {}, postsToConnections: false },
  {
    routeKey: 'open',
    handler: 'open',
    // members and messages `w`: offline delivery moves the delivered point over the member's own
    // and void seqs, voiding holes on the way (domain/offline.ts).
    tables: { connections: 'rw', presence: 'rw', members: 'rw', conversations: 'r', messages: 'rw', keys: 'rw', rooms: 'w', devices: 'rw' },
    // byUpdate: the edits and recalls missed since `changesSince`.
    indexes: ['members.byClient', 'messages.byUpdate'],
    postsToConnections: true,
    sns: ['CreatePlatformEndpoint', 'GetEndpointAttributes', 'SetEndpointAttributes', 'DeleteEndpoint'],
    verifiesSignatures: true,
  },
  {
    routeKey: 'close',
    handler: 'close',
    tables: { connections: 'rw', presence: 'rw', rooms: 'w', devices: 'rw', keys: 'w' },
    postsToConnections: false,
    sns: ['DeleteEndpoint'],
  },
  {
    routeKey: 'create',
    handler: 'create',
    tables: { connections: 'rw', presence: 'rw', conversations: 'rw', members: 'rw', keys: 'rw', rooms: 'w' },
    postsToConnections: true,
    verifiesSignatures: true,
  },
  {
    routeKey: 'send',
    handler: 'send',
    tables: { connections: 'rw', presence: 'rw', conversations: 'rw', members: 'r', messages: 'rw', keys: 'rw', rooms: 'rw' },
    postsToConnections: true,
    invokes: ['push'],
  },
  {
    routeKey: 'edit',
    handler: 'edit',
    tables: { connections: 'rw', presence: 'rw', conversations: 'rw', members: 'r', messages: 'rw', keys: 'w', rooms: 'rw' },
    postsToConnections: true,
  },
  {
    routeKey: 'recall',
    handler: 'recall',
    tables: { connections: 'rw', presence: 'rw', conversations: 'rw', members: 'r', messages: 'rw', keys: 'w', rooms: 'rw' },
    postsToConnections: true,
  },
  {
    routeKey: 'ack',
    handler: 'ack',
    // messages `w`: an ack that must pass an empty seq voids it (message-store.ts).
    tables: { connections: 'rw', presence: 'rw', members: 'rw', messages: 'rw', keys: 'rw' },
    postsToConnections: true,
  },
  {
    routeKey: 'read',
    handler: 'read',
    tables: { connections: 'rw', presence: 'rw', conversations: 'r', members: 'rw', messages: 'rw', keys: 'w' },
    postsToConnections: true,
  },
  {
    routeKey: 'query',
    handler: 'query',
    tables: { connections: 'r', members: 'r', conversations: 'r', messages: 'r', keys: 'w' },
    postsToConnections: false,
  },
  {
    routeKey: 'join',
    handler: 'join',
    tables: { connections: 'rw', presence: 'rw', conversations: 'rw', members: 'rw', keys: 'rw', rooms: 'w' },
    postsToConnections: true,
    verifiesSignatures: true,
  },
  {
    routeKey: 'quit',
    handler: 'quit',
    tables: { connections: 'rw', presence: 'rw', conversations: 'rw', members: 'rw', rooms: 'w', keys: 'w' },
    postsToConnections: true,
  },
  {
    routeKey: 'invite',
    handler: 'invite',
    tables: { connections: 'rw', presence: 'rw', conversations: 'rw', members: 'rw', keys: 'rw' },
    postsToConnections: true,
    verifiesSignatures: true,
  },
  {
    routeKey: 'kick',
    handler: 'kick',
    tables: { connections: 'rw', presence: 'rw', conversations: 'rw', members: 'rw', keys: 'rw' },
    postsToConnections: true,
    verifiesSignatures: true,
  },
  {
    routeKey: 'mute',
    handler: 'mute',
    tables: { connections: 'r', conversations: 'r', members: 'rw', keys: 'w' },
    postsToConnections: false,
  },
  {
    routeKey: 'unmute',
    handler: 'unmute',
    tables: { connections: 'r', conversations: 'r', members: 'rw', keys: 'w' },
    postsToConnections: false,
  },
  {
    routeKey: 'count',
    handler: 'count',
    tables: { connections: 'r', conversations: 'r', members: 'r', rooms: 'r', keys: 'w' },
    postsToConnections: false,
  },
  {
    routeKey: 'update',
    handler: 'update',
    tables: { connections: 'rw', presence: 'rw', conversations: 'rw', members: 'r', keys: 'w' },
    postsToConnections: true,
  },
  {
    routeKey: 'find',
    handler: 'find',
    tables: { connections: 'r', conversations: 'r', members: 'r', messages: 'r', keys: 'w' },
    indexes: ['members.byClient', 'conversations.byName', 'conversations.byCreator'],
    scans: ['conversations'],
    postsToConnections: false,
  },
];
