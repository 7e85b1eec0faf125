/**
 * Connections and presence. `connections` maps a connection id to the client bound by `open`;
 * `presence` maps a client to all its live connections in one item, so the connections of up to
 * 100 recipients come back from a single BatchGetItem.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, setMapEntry, type Item, isConditionFailed, applied } from './dynamo';
import { ImError } from '../protocol/errors';
import type { Ctx } from '../domain/context';
import type { WireProtocol } from '../protocol/subprotocols';

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
  /** The push devices this session named at `open` (registered there or earlier), unregistered by `close`. */
  pushDeviceKeys: string[];
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
    pushDeviceKeys: deviceKeysOf(conn),
    ...(protocol ? { protocol } : {}),
  };
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
 * concurrent `open`s with different clients on one connection cannot both win: the loser gets 4103.
 * `deviceKeys` are added to the ones the connection already names.
 */
export async function bindConnection(
  ctx: Ctx,
  session: Pick<Session, 'clientId' | 'tag' | 'deviceId' | 'unreadMode'> & { deviceKeys: string[] },
  generation: number | undefined,
): Promise<void> {
  const { db, config } = ctx.deps;
  const removed = [!session.tag && 'tag', !session.deviceId && 'deviceId'].filter((a): a is string => a !== false);
  try {
    await db.send(
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
    );
  } catch (err) {
    if (!isConditionFailed(err)) throw err;
    const now = await getConnection(ctx);
    if (now?.clientId !== undefined && now.clientId !== session.clientId) {
      throw new ImError('INVALID_LOGIN', 'this connection is bound to another client; close it first');
    }
    throw new ImError('SESSION_CONFLICT', 'this session was ended while it was being opened');
  }
}

/**
 * Records on this connection something that outlives a request: the chat room it is in, or the
 * LeanCloud session token it holds, so that its `close` can remove what it names. Only on a
 * record that exists: a connection whose `$disconnect` already ran gets no record back. False
 * when there was none.
 */
export async function setConnectionField(ctx: Ctx, field: 'room' | 'sessionTokenKey', value: string): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.connections,
        Key: { connectionId: ctx.connectionId },
        UpdateExpression: 'SET #f = :v',
        ConditionExpression: 'attribute_exists(connectionId)',
        ExpressionAttributeNames: { '#f': field },
        ExpressionAttributeValues: { ':v': value },
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

export async function deleteConnection(ctx: Ctx, connectionId: string): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(new DeleteCommand({ TableName: config.tables.connections, Key: { connectionId } }));
}

/** Adds a connection to its client's presence item, creating the item on first use. */
export async function addPresence(ctx: Ctx, clientId: string, connectionId: string, entry: PresenceEntry): Promise<void> {
  const { db, config } = ctx.deps;
  await setMapEntry(db, config.tables.presence, { clientId }, 'conns', connectionId, entry, { expiresAt: entry.expiresAt });
}

/**
 * Removes connections from a client's presence (no-op when they are not there), and the tags
 * they hold — only while a tag still names one of them, since a newer login may own it already.
 */
export async function removePresence(ctx: Ctx, clientId: string, connectionIds: string[]): Promise<void> {
  if (connectionIds.length === 0) return;
  const { db, config } = ctx.deps;
  const names: Record<string, string> = {};
  connectionIds.forEach((c, i) => (names[`#c${i}`] = c));
  let old: Item | undefined;
  try {
    const res = await db.send(
      new UpdateCommand({
        TableName: config.tables.presence,
        Key: { clientId },
        UpdateExpression: 'REMOVE ' + connectionIds.map((_, i) => `conns.#c${i}`).join(', '),
        ConditionExpression: 'attribute_exists(conns)',
        ExpressionAttributeNames: names,
        ReturnValues: 'ALL_OLD',
      }),
    );
    old = res.Attributes;
  } catch (err) {
    if (isConditionFailed(err)) return;
    throw err;
  }
  const held = Object.entries(tagsOf(old)).filter(([, owner]) => connectionIds.includes(owner));
  for (const [tag, owner] of held) {
    await applied(
      db.send(
        new UpdateCommand({
          TableName: config.tables.presence,
          Key: { clientId },
          UpdateExpression: 'REMOVE tags.#t',
          ConditionExpression: 'tags.#t = :c',
          ExpressionAttributeNames: { '#t': tag },
          ExpressionAttributeValues: { ':c': owner },
        }),
      ),
    );
  }
}

const tagsOf = (item: Item | undefined) => (item?.tags ?? {}) as Record<string, string>;

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

/** One client's presence as read, with what a conditional write needs to build on it. */
export interface Presence {
  live: LiveConnection[];
  expired: string[];
  lastRoom?: LastRoom;
  /**
   * Which connection holds each single-device tag (PROTOCOL.md §5). Logins change it only with
   * a condition on the holder they saw, so of two concurrent logins with one tag one notices the
   * other.
   */
  tags: Record<string, string>;
  /** Every entry as read, live or not. */
  entries: Record<string, PresenceEntry>;
  /** Which parts of the item existed when it was read. */
  shape: { item: boolean; conns: boolean; tags: boolean };
}

/**
 * The live connections of one client (consistent read), the expired entries to prune, the tags
 * held, and the room it last left by disconnecting.
 */
export async function getPresence(ctx: Ctx, clientId: string): Promise<Presence> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.presence, Key: { clientId }, ConsistentRead: true }));
  const item = res.Item;
  const lastRoom = item?.lastRoom as LastRoom | undefined;
  return {
    ...liveEntries(ctx, item),
    ...(lastRoom ? { lastRoom } : {}),
    tags: tagsOf(item),
    entries: (item?.conns ?? {}) as Record<string, PresenceEntry>,
    shape: { item: item !== undefined, conns: item?.conns !== undefined, tags: item?.tags !== undefined },
  };
}

/**
 * `open`: adds the connection to its client's presence and, with a tag, makes it the tag's
 * holder — only if the item is still as `read` saw it where it matters: the tag held by the
 * connection read there or by none, and a tag this connection held before and now gives up.
 * False when another write came first: the caller reads again and resolves the conflict with
 * what it finds.
 */
export async function claimPresence(
  ctx: Ctx,
  clientId: string,
  connectionId: string,
  entry: PresenceEntry,
  read: Presence,
): Promise<boolean> {
  const { db, config } = ctx.deps;
  const table = config.tables.presence;
  const tag = entry.tag;
  if (!read.shape.item) {
    return applied(
      db.send(
        new PutCommand({
          TableName: table,
          Item: { clientId, conns: { [connectionId]: entry }, tags: tag ? { [tag]: connectionId } : {}, expiresAt: entry.expiresAt },
          ConditionExpression: 'attribute_not_exists(clientId)',
        }),
      ),
    );
  }
  const sets = ['expiresAt = :exp'];
  const removes: string[] = [];
  const conditions: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':exp': entry.expiresAt };
  if (read.shape.conns) {
    sets.push('conns.#me = :entry');
    conditions.push('attribute_exists(conns)');
    names['#me'] = connectionId;
    values[':entry'] = entry;
  } else {
    sets.push('conns = :conns');
    conditions.push('attribute_not_exists(conns)');
    values[':conns'] = { [connectionId]: entry };
  }
  if (tag && read.shape.tags) {
    const holder = read.tags[tag];
    sets.push('tags.#tag = :id');
    // The holder read may have been replaced meanwhile, which removes its tag; anyone else
    // holding it now came in between.
    conditions.push(
      'attribute_exists(tags) AND ' +
        (holder === undefined ? 'attribute_not_exists(tags.#tag)' : '(attribute_not_exists(tags.#tag) OR tags.#tag = :holder)'),
    );
    names['#tag'] = tag;
    values[':id'] = connectionId;
    if (holder !== undefined) values[':holder'] = holder;
  } else if (tag) {
    sets.push('tags = :tags');
    conditions.push('attribute_not_exists(tags)');
    values[':tags'] = { [tag]: connectionId };
  }
  // A re-open with another tag (or none) gives up the one this connection held.
  const previous = read.entries[connectionId]?.tag;
  if (previous !== undefined && previous !== tag && read.tags[previous] === connectionId) {
    removes.push('tags.#old');
    conditions.push('tags.#old = :id');
    names['#old'] = previous;
    values[':id'] = connectionId;
  }
  return applied(
    db.send(
      new UpdateCommand({
        TableName: table,
        Key: { clientId },
        UpdateExpression: `SET ${sets.join(', ')}` + (removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''),
        ConditionExpression: conditions.join(' AND '),
        ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
      }),
    ),
  );
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
