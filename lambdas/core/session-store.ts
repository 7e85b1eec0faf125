/**
 * Connections and presence. `connections` maps a connection id to the client bound by `open`;
 * `presence` maps a client to all its live connections in one item, so the connections of up to
 * 100 recipients come back from a single BatchGetItem.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, setMapEntry, type Item } from '../adapters/dynamo';
import { ImError, isConditionFailed, applied } from './errors';
import type { Ctx } from './route';
import type { WireProtocol } from './subprotocols';

/** API Gateway closes connections after 2 h; records live 10 min longer (then TTL removes them). */
export const CONNECTION_TTL_SECONDS = 2 * 3600 + 10 * 60;

export interface Session {
  clientId: string;
  connectionId: string;
  tag?: string;
  deviceId?: string;
  unreadMode: boolean;
  /** The chat room this connection is in, if any (at most one). */
  room?: string;
  /** The push device this connection registered at `open`, unregistered by `close`. */
  pushDeviceKey?: string;
  protocol?: WireProtocol;
}

export interface ConnectionRecord {
  connectionId: string;
  connectedAt: number;
  expiresAt: number;
  clientId?: string;
  tag?: string;
  deviceId?: string;
  unreadMode?: boolean;
  room?: string;
  pushDeviceKey?: string;
  /** The LeanCloud session token issued on this connection, revoked by its `session/close`. */
  sessionTokenKey?: string;
  /** The wire protocol negotiated at $connect. */
  protocol?: WireProtocol;
  /** Further clients whose sessions share this socket (LeanCloud multiplexing), by client id. */
  peers?: Set<string>;
}

/** What presence remembers about one live connection of a client. */
export interface PresenceEntry {
  expiresAt: number;
  tag?: string;
  deviceId?: string;
  /** Set for connections that do not speak the native protocol. */
  protocol?: WireProtocol;
}

export interface LiveConnection extends PresenceEntry {
  connectionId: string;
}

const nowSeconds = (ctx: Ctx) => Math.floor(ctx.now / 1000);
export const expiryFrom = (ctx: Ctx) => nowSeconds(ctx) + CONNECTION_TTL_SECONDS;

/** TTL deletion on AWS lags by up to days: an expired record is treated as absent. */
const isLive = (ctx: Ctx, expiresAt: unknown) => typeof expiresAt === 'number' && expiresAt > nowSeconds(ctx);

export async function putConnection(ctx: Ctx, record: { connectedAt: number; sourceIp?: string; protocol: WireProtocol }): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(
    new PutCommand({
      TableName: config.tables.connections,
      Item: { connectionId: ctx.connectionId, ...record, expiresAt: expiryFrom(ctx) },
    }),
  );
}

export async function getConnection(ctx: Ctx, connectionId = ctx.connectionId): Promise<ConnectionRecord | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.connections, Key: { connectionId }, ConsistentRead: true }));
  const item = res.Item as ConnectionRecord | undefined;
  return item && isLive(ctx, item.expiresAt) ? item : undefined;
}

/** The session bound to this connection, or 4105. */
export async function requireSession(ctx: Ctx): Promise<Session> {
  return sessionOf(ctx, await getConnection(ctx));
}

/** The session of an already loaded connection record, or 4105. */
export function sessionOf(ctx: Ctx, conn: ConnectionRecord | undefined): Session {
  if (!conn?.clientId) throw new ImError('SESSION_REQUIRED', 'open a session first');
  const protocol = nonNativeProtocol(conn);
  return {
    clientId: conn.clientId,
    connectionId: ctx.connectionId,
    tag: conn.tag,
    deviceId: conn.deviceId,
    unreadMode: conn.unreadMode === true,
    ...(conn.room ? { room: conn.room } : {}),
    ...(conn.pushDeviceKey ? { pushDeviceKey: conn.pushDeviceKey } : {}),
    ...(protocol ? { protocol } : {}),
  };
}

/** The connection's protocol when it is not the native one (presence and rooms store only those). */
export function nonNativeProtocol(conn: ConnectionRecord | undefined): WireProtocol | undefined {
  return conn?.protocol && conn.protocol !== 'native' ? conn.protocol : undefined;
}

/**
 * Binds the connection to a client. The condition makes two concurrent `open`s with different
 * clients on one connection impossible: the loser gets 4103.
 */
export async function bindConnection(ctx: Ctx, session: Omit<Session, 'connectionId'>): Promise<void> {
  const { db, config } = ctx.deps;
  try {
    await db.send(
      new UpdateCommand({
        TableName: config.tables.connections,
        Key: { connectionId: ctx.connectionId },
        UpdateExpression:
          'SET clientId = :c, unreadMode = :u, openedAt = :t, expiresAt = if_not_exists(expiresAt, :e), connectedAt = if_not_exists(connectedAt, :t)' +
          (session.tag ? ', tag = :tag' : '') +
          (session.deviceId ? ', deviceId = :dev' : '') +
          (!session.tag || !session.deviceId
            ? ' REMOVE ' + [!session.tag && 'tag', !session.deviceId && 'deviceId'].filter(Boolean).join(', ')
            : ''),
        ConditionExpression: 'attribute_not_exists(clientId) OR clientId = :c',
        ExpressionAttributeValues: {
          ':c': session.clientId,
          ':u': session.unreadMode,
          ':t': ctx.now,
          ':e': expiryFrom(ctx),
          ...(session.tag ? { ':tag': session.tag } : {}),
          ...(session.deviceId ? { ':dev': session.deviceId } : {}),
        },
      }),
    );
  } catch (err) {
    if (isConditionFailed(err)) throw new ImError('INVALID_LOGIN', 'this connection is bound to another client; close it first');
    throw err;
  }
}

/**
 * Records on this connection something that outlives a request: the chat room it is in, or a key
 * it created (push device, LeanCloud session token) so that its `close` can remove what it names.
 */
export async function setConnectionField(ctx: Ctx, field: 'room' | 'pushDeviceKey' | 'sessionTokenKey', value: string): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(
    new UpdateCommand({
      TableName: config.tables.connections,
      Key: { connectionId: ctx.connectionId },
      UpdateExpression: 'SET #f = :v',
      ExpressionAttributeNames: { '#f': field },
      ExpressionAttributeValues: { ':v': value },
    }),
  );
}

/** `close`: the connection stays up but no longer belongs to a client. */
export async function unbindConnection(ctx: Ctx): Promise<void> {
  const { db, config } = ctx.deps;
  await applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.connections,
        Key: { connectionId: ctx.connectionId },
        UpdateExpression: 'REMOVE clientId, tag, deviceId, unreadMode, openedAt, pushDeviceKey, sessionTokenKey',
        ConditionExpression: 'attribute_exists(connectionId)',
      }),
    ),
  );
}

/**
 * A session record for another client on this socket (`<socket>#<clientId>`), living as long as
 * the socket, and listed on the socket's record so that `$disconnect` ends it too.
 */
export async function addPeerSession(
  ctx: Ctx,
  socket: ConnectionRecord,
  peerConnectionId: string,
  clientId: string,
): Promise<ConnectionRecord> {
  const { db, config } = ctx.deps;
  const record: ConnectionRecord = {
    connectionId: peerConnectionId,
    connectedAt: socket.connectedAt,
    expiresAt: socket.expiresAt,
    ...(socket.protocol ? { protocol: socket.protocol } : {}),
  };
  // Already there when two opens for the client race: the first one's record stands.
  await applied(
    db.send(
      new PutCommand({
        TableName: config.tables.connections,
        Item: record,
        ConditionExpression: 'attribute_not_exists(connectionId)',
      }),
    ),
  );
  await db.send(
    new UpdateCommand({
      TableName: config.tables.connections,
      Key: { connectionId: socket.connectionId },
      UpdateExpression: 'ADD peers :p',
      ConditionExpression: 'attribute_exists(connectionId)',
      ExpressionAttributeValues: { ':p': new Set([clientId]) },
    }),
  );
  return record;
}

export async function deleteConnection(ctx: Ctx, connectionId: string): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(new DeleteCommand({ TableName: config.tables.connections, Key: { connectionId } }));
}

/** Adds a connection to its client's presence item, creating the item on first use. */
export async function addPresence(ctx: Ctx, clientId: string, connectionId: string, entry: PresenceEntry): Promise<void> {
  const { db, config } = ctx.deps;
  await setMapEntry(db, config.tables.presence, { clientId }, 'conns', connectionId, entry, { expiresAt: entry.expiresAt });
}

/** Removes connections from a client's presence (no-op when they are not there). */
export async function removePresence(ctx: Ctx, clientId: string, connectionIds: string[]): Promise<void> {
  if (connectionIds.length === 0) return;
  const { db, config } = ctx.deps;
  const names: Record<string, string> = {};
  connectionIds.forEach((c, i) => (names[`#c${i}`] = c));
  await applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.presence,
        Key: { clientId },
        UpdateExpression: 'REMOVE ' + connectionIds.map((_, i) => `conns.#c${i}`).join(', '),
        ConditionExpression: 'attribute_exists(conns)',
        ExpressionAttributeNames: names,
      }),
    ),
  );
}

function liveEntries(ctx: Ctx, item: Item | undefined): { live: LiveConnection[]; expired: string[] } {
  const conns = (item?.conns ?? {}) as Record<string, PresenceEntry>;
  const live: LiveConnection[] = [];
  const expired: string[] = [];
  for (const [connectionId, e] of Object.entries(conns)) {
    if (isLive(ctx, e.expiresAt)) live.push({ connectionId, ...e });
    else expired.push(connectionId);
  }
  return { live, expired };
}

/** A chat room the client left by disconnecting, remembered on its presence item. */
export interface LastRoom {
  cid: string;
  leftAt: number;
}

/**
 * The live connections of one client (consistent read), the expired entries to prune, and the
 * room it last left by disconnecting.
 */
export async function getPresence(ctx: Ctx, clientId: string): Promise<{ live: LiveConnection[]; expired: string[]; lastRoom?: LastRoom }> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.presence, Key: { clientId }, ConsistentRead: true }));
  const lastRoom = res.Item?.lastRoom as LastRoom | undefined;
  return { ...liveEntries(ctx, res.Item), ...(lastRoom ? { lastRoom } : {}) };
}

/**
 * How long a removal marker holds back fan-outs that started before the removal: longer than any
 * request runs (API Gateway's 29 s; follow-ups of large fan-outs run on, within the Lambda timeout).
 */
export const LEFT_MARKER_MS = 15 * 60_000;

/** What fan-out needs of a client's presence: its live connections, and when it left which conversations. */
export interface PresenceState {
  live: LiveConnection[];
  /** Conversation id → when the client was removed from it (kick or quit), for recent removals. */
  left: Record<string, number>;
}

/** Presence of many clients: one BatchGetItem per 100 clients; clients with no item are absent. */
export async function presenceOf(ctx: Ctx, clientIds: string[]): Promise<Map<string, PresenceState>> {
  const { db, config } = ctx.deps;
  const items = await batchGetAll(
    db,
    config.tables.presence,
    clientIds.map((clientId) => ({ clientId })),
  );
  const out = new Map<string, PresenceState>();
  for (const item of items) {
    const { live } = liveEntries(ctx, item);
    out.set(item.clientId as string, { live, left: (item.left ?? {}) as Record<string, number> });
  }
  return out;
}

/** Live connections of many clients: one BatchGetItem per 100 clients. */
export async function livePresence(ctx: Ctx, clientIds: string[]): Promise<Map<string, LiveConnection[]>> {
  const out = new Map<string, LiveConnection[]>();
  for (const [clientId, p] of await presenceOf(ctx, clientIds)) if (p.live.length > 0) out.set(clientId, p.live);
  return out;
}

/**
 * Marks on a client's presence that it was just removed from `cid`, before it is told: a fan-out
 * of that conversation that read the member list earlier then skips it (delivery.ts). Only a
 * client with a presence item can have live connections to protect; markers older than
 * LEFT_MARKER_MS are pruned on the way.
 */
export async function markLeft(ctx: Ctx, clientId: string, cid: string): Promise<void> {
  const { db, config } = ctx.deps;
  const write = (expression: string, condition: string, values: Item) =>
    db.send(
      new UpdateCommand({
        TableName: config.tables.presence,
        Key: { clientId },
        UpdateExpression: expression,
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#left': 'left', ...(expression.includes('#cid') ? { '#cid': cid } : {}) },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
  let item: Item | undefined;
  // The map may not exist yet, and two first markers may race to create it: a few rounds settle it.
  for (let attempt = 0; attempt < 3 && !item; attempt++) {
    try {
      item = (await write('SET #left.#cid = :now', 'attribute_exists(conns) AND attribute_exists(#left)', { ':now': ctx.now })).Attributes;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      try {
        item = (await write('SET #left = :m', 'attribute_exists(conns) AND attribute_not_exists(#left)', { ':m': { [cid]: ctx.now } }))
          .Attributes;
      } catch (err2) {
        if (!isConditionFailed(err2)) throw err2;
        // No presence item at all: nothing live to hold back.
        const there = await db.send(new GetCommand({ TableName: config.tables.presence, Key: { clientId }, ConsistentRead: true }));
        if (!there.Item?.conns) return;
      }
    }
  }
  const stale = Object.entries((item?.left ?? {}) as Record<string, number>).filter(([, at]) => ctx.now - at > LEFT_MARKER_MS);
  if (stale.length === 0) return;
  await db.send(
    new UpdateCommand({
      TableName: config.tables.presence,
      Key: { clientId },
      UpdateExpression: 'REMOVE ' + stale.map((_, i) => `#left.#s${i}`).join(', '),
      ExpressionAttributeNames: { '#left': 'left', ...Object.fromEntries(stale.map(([c], i) => [`#s${i}`, c])) },
    }),
  );
}
