/**
 * Connections (`connections` table): one record per connection id — the socket's own, or a
 * further LeanCloud client's session on it (`<socket>#<clientId>`) — naming the client `open`
 * bound to it and what its `close` must undo. Presence (who is online where) is presence.ts.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailed, applied, epochSeconds, isUnexpired } from './dynamo';
import type { Ctx } from '../domain/context';
import type { WireProtocol } from '../protocol/subprotocols';

/** API Gateway closes connections after 2 h; records live 10 min longer (then TTL removes them). */
export const CONNECTION_TTL_SECONDS = 2 * 3600 + 10 * 60;

export interface ConnectionRecord {
  connectionId: string;
  connectedAt: number;
  expiresAt: number;
  clientId?: string;
  tag?: string;
  deviceId?: string;
  unreadMode?: boolean;
  room?: string;
  /** Every push device the session's opens named (`deviceKeyOf`), so that `close` unregisters them all. */
  pushDeviceKeys?: Set<string>;
  /** Written by releases before `pushDeviceKeys`; read until such records have expired. */
  pushDeviceKey?: string;
  /**
   * Counts the sessions that ended on this record (`close`, a tag conflict). An `open` binds only
   * if it is unchanged since the open read the record, so a session ended while it was being
   * opened stays ended.
   */
  generation?: number;
  /** The LeanCloud session token issued on this connection, revoked by its `session/close`. */
  sessionTokenKey?: string;
  /** The wire protocol negotiated at $connect. */
  protocol?: WireProtocol;
  /** Further clients whose sessions share this socket (LeanCloud multiplexing), by client id. */
  peers?: Set<string>;
}

export const expiryFrom = (ctx: Ctx) => epochSeconds(ctx.now) + CONNECTION_TTL_SECONDS;

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
  return item && isUnexpired(item.expiresAt, ctx.now) ? item : undefined;
}

/** The push devices a connection record names, including the single key of older records. */
export function deviceKeysOf(conn: ConnectionRecord | undefined): string[] {
  const keys = new Set(conn?.pushDeviceKeys ?? []);
  if (conn?.pushDeviceKey) keys.add(conn.pushDeviceKey);
  return [...keys];
}

/** The connection's protocol when it is not the native one (presence and rooms store only those). */
export function nonNativeProtocol(conn: ConnectionRecord | undefined): WireProtocol | undefined {
  return conn?.protocol && conn.protocol !== 'native' ? conn.protocol : undefined;
}

/**
 * Binds the connection to a client. The record must exist — `$connect` or `addPeerSession`
 * created it and only `$disconnect` deletes it — so a bind that comes too late cannot bring a dead
 * connection back, and the record keeps the expiry it was created with. `generation` is the one
 * the open read: a session ended since then (close, a tag conflict) is not bound again. Two
 * concurrent `open`s with different clients on one connection cannot both win. False when the
 * bind was refused (no record, another client, or another generation): the caller reads the
 * record again to tell which. `deviceKeys` are added to the ones the connection already names.
 */
export async function bindConnection(
  ctx: Ctx,
  session: { clientId: string; tag?: string; deviceId?: string; unreadMode: boolean; deviceKeys: string[] },
  generation: number | undefined,
): Promise<boolean> {
  const { db, config } = ctx.deps;
  const removed = [!session.tag && 'tag', !session.deviceId && 'deviceId'].filter((a): a is string => a !== false);
  return applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.connections,
        Key: { connectionId: ctx.connectionId },
        UpdateExpression:
          'SET clientId = :c, unreadMode = :u, openedAt = :t' +
          (session.tag ? ', tag = :tag' : '') +
          (session.deviceId ? ', deviceId = :dev' : '') +
          (removed.length > 0 ? ` REMOVE ${removed.join(', ')}` : '') +
          (session.deviceKeys.length > 0 ? ' ADD pushDeviceKeys :keys' : ''),
        ConditionExpression:
          'attribute_exists(connectionId) AND (attribute_not_exists(clientId) OR clientId = :c) AND ' +
          (generation === undefined ? 'attribute_not_exists(generation)' : 'generation = :g'),
        ExpressionAttributeValues: {
          ':c': session.clientId,
          ':u': session.unreadMode,
          ':t': ctx.now,
          ...(session.tag ? { ':tag': session.tag } : {}),
          ...(session.deviceId ? { ':dev': session.deviceId } : {}),
          ...(session.deviceKeys.length > 0 ? { ':keys': new Set(session.deviceKeys) } : {}),
          ...(generation === undefined ? {} : { ':g': generation }),
        },
      }),
    ),
  );
}

/**
 * Records on this connection something that outlives a request — the chat room it is in, or the
 * LeanCloud session token it holds, so that its `close` can remove what it names — or, with
 * `undefined`, forgets it (the room was left). Only on a record that exists: a connection whose
 * `$disconnect` already ran gets no record back. False when there was none.
 */
export async function setConnectionField(ctx: Ctx, field: 'room' | 'sessionTokenKey', value: string | undefined): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.connections,
        Key: { connectionId: ctx.connectionId },
        UpdateExpression: value === undefined ? 'REMOVE #f' : 'SET #f = :v',
        ConditionExpression: 'attribute_exists(connectionId)',
        ExpressionAttributeNames: { '#f': field },
        ...(value === undefined ? {} : { ExpressionAttributeValues: { ':v': value } }),
      }),
    ),
  );
}

/**
 * `close` (or a tag conflict on a LeanCloud socket): the connection stays up but no longer
 * belongs to a client, and its generation moves on, so an `open` of the ended session still under
 * way cannot bind it again. With `clientId`, a record bound to another client is left alone.
 * Returns the record as it was, whose device keys include any an overlapping `open` added.
 */
export async function unbindConnection(ctx: Ctx, clientId?: string): Promise<ConnectionRecord | undefined> {
  const { db, config } = ctx.deps;
  try {
    const res = await db.send(
      new UpdateCommand({
        TableName: config.tables.connections,
        Key: { connectionId: ctx.connectionId },
        UpdateExpression:
          'REMOVE clientId, tag, deviceId, unreadMode, openedAt, pushDeviceKey, pushDeviceKeys, sessionTokenKey ADD generation :one',
        ConditionExpression: 'attribute_exists(connectionId)' + (clientId ? ' AND (attribute_not_exists(clientId) OR clientId = :c)' : ''),
        ExpressionAttributeValues: { ':one': 1, ...(clientId ? { ':c': clientId } : {}) },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return res.Attributes as ConnectionRecord | undefined;
  } catch (err) {
    if (isConditionFailed(err)) return undefined;
    throw err;
  }
}

/**
 * A session record for another client on this socket (`<socket>#<clientId>`), living as long as
 * the socket, and listed on the socket's record so that `$disconnect` ends it too. The socket
 * lists at most `maxPeers` clients (the condition holds under concurrent opens). Undefined when
 * the socket has no room for another one, or is gone: the record is then not kept either, so
 * nothing outlives the socket's `$disconnect`.
 */
export async function addPeerSession(
  ctx: Ctx,
  socket: ConnectionRecord,
  peerConnectionId: string,
  clientId: string,
  maxPeers: number,
): Promise<ConnectionRecord | undefined> {
  const { db, config } = ctx.deps;
  const record: ConnectionRecord = {
    connectionId: peerConnectionId,
    connectedAt: socket.connectedAt,
    expiresAt: socket.expiresAt,
    ...(socket.protocol ? { protocol: socket.protocol } : {}),
  };
  // Already there when two opens for the client race: the first one's record stands.
  const created = await applied(
    db.send(
      new PutCommand({
        TableName: config.tables.connections,
        Item: record,
        ConditionExpression: 'attribute_not_exists(connectionId)',
      }),
    ),
  );
  const listed = await applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.connections,
        Key: { connectionId: socket.connectionId },
        UpdateExpression: 'ADD peers :p',
        ConditionExpression:
          'attribute_exists(connectionId) AND (attribute_not_exists(peers) OR contains(peers, :c) OR size(peers) < :max)',
        ExpressionAttributeValues: { ':p': new Set([clientId]), ':c': clientId, ':max': maxPeers },
      }),
    ),
  );
  if (!listed) {
    if (created) await deleteConnection(ctx, peerConnectionId);
    return undefined;
  }
  return created ? record : getConnection(ctx, peerConnectionId);
}

/** Deletes a connection record; returns what it held (a bind may have landed after a caller's read). */
export async function deleteConnection(ctx: Ctx, connectionId: string): Promise<ConnectionRecord | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new DeleteCommand({ TableName: config.tables.connections, Key: { connectionId }, ReturnValues: 'ALL_OLD' }));
  return res.Attributes as ConnectionRecord | undefined;
}
