/**
 * The one definition of every DynamoDB table: keys, indexes and TTL attribute.
 * The CDK stack and the local bootstrap both build their tables from this list,
 * so the two can never drift apart.
 */

export type KeyType = 'S' | 'N';

export interface KeyDef {
  name: string;
  type: KeyType;
}

export interface IndexDef {
  name: string;
  partitionKey: KeyDef;
  sortKey?: KeyDef;
  /**
   * KEYS_ONLY unless a reader needs more: an index projecting an attribute that changes on
   * every message (lastSeq, deliveredSeq…) would cost an index write per message.
   */
  projection: 'KEYS_ONLY' | 'ALL';
}

export interface TableDef {
  partitionKey: KeyDef;
  sortKey?: KeyDef;
  /** Epoch-seconds attribute DynamoDB may expire on (AWS only; code also ignores expired items). */
  ttlAttribute?: string;
  indexes?: IndexDef[];
  /** Why the table exists, for docs and the CloudFormation description. */
  purpose: string;
}

export const TABLES = {
  connections: {
    purpose: 'One item per live WebSocket connection: the client bound by `open` and its session options.',
    partitionKey: { name: 'connectionId', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  presence: {
    purpose:
      'One item per client holding a map of its live connections, so fan-out finds the connections of 100 recipients with one BatchGetItem.',
    partitionKey: { name: 'clientId', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  conversations: {
    purpose:
      'Conversation metadata, `memberCount`, the per-conversation message sequence counter (`lastSeq`) and the time of the latest message edit (`lastPatchAt`). Indexed by name and creator for `find`.',
    partitionKey: { name: 'cid', type: 'S' },
    indexes: [
      { name: 'byName', partitionKey: { name: 'name', type: 'S' }, projection: 'KEYS_ONLY' },
      {
        name: 'byCreator',
        partitionKey: { name: 'creator', type: 'S' },
        sortKey: { name: 'createdAt', type: 'N' },
        projection: 'KEYS_ONLY',
      },
    ],
  },
  members: {
    purpose: 'Membership (authoritative) and per-member state: delivered (acked) and read sequence points, mute flag.',
    partitionKey: { name: 'cid', type: 'S' },
    sortKey: { name: 'clientId', type: 'S' },
    indexes: [
      {
        name: 'byClient',
        partitionKey: { name: 'clientId', type: 'S' },
        sortKey: { name: 'cid', type: 'S' },
        projection: 'KEYS_ONLY',
      },
    ],
  },
  messages: {
    purpose: 'Stored messages, ordered by their per-conversation sequence number.',
    partitionKey: { name: 'cid', type: 'S' },
    sortKey: { name: 'seq', type: 'N' },
    indexes: [
      // Sparse: only edited or recalled messages have updatedAt. ALL, because its one reader
      // (changes missed while offline) needs whole messages, and edits are rare.
      { name: 'byUpdate', partitionKey: { name: 'cid', type: 'S' }, sortKey: { name: 'updatedAt', type: 'N' }, projection: 'ALL' },
    ],
  },
  rooms: {
    purpose:
      'Chat-room occupancy: one item per connection in a room, keyed by room, so room fan-out and `count` are one Query and never touch members.',
    partitionKey: { name: 'cid', type: 'S' },
    sortKey: { name: 'connectionId', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  devices: {
    purpose:
      'Push devices of a client as one map (device key → token, platform, SNS endpoint ARN), so the push worker reads the devices of 100 offline recipients with one BatchGetItem.',
    partitionKey: { name: 'clientId', type: 'S' },
  },
  keys: {
    purpose:
      'Idempotency and uniqueness keys written with conditional puts: clientMsgId dedupe, unique-conversation member sets, signature nonces.',
    partitionKey: { name: 'k', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
} as const satisfies Record<string, TableDef>;

export type TableName = keyof typeof TABLES;
export const TABLE_NAMES = Object.keys(TABLES) as TableName[];

/** Environment variable through which a Lambda learns a table's physical name. */
export function tableEnvVar(table: TableName): string {
  return `IM_TABLE_${table.toUpperCase()}`;
}
