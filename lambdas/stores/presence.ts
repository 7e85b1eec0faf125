/**
 * Presence (`presence` table): one item per client holding all its live connections, so the
 * connections of up to 100 recipients come back from a single BatchGetItem; beside them the
 * single-device tags and who holds each, the conversations the client was just removed from
 * (left markers), and the chat room it last left by disconnecting.
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, setMapEntry, type Item, isConditionFailed, applied, isUnexpired } from './dynamo';
import type { Ctx } from '../domain/context';
import type { WireProtocol } from '../protocol/subprotocols';

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
    if (isUnexpired(e.expiresAt, ctx.now)) live.push({ connectionId, ...e });
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
   * Which connection holds each single-device tag (docs/protocol.md §5). Logins change it only with
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
  // The item lives as long as its longest-lived connection: an older socket logging in (or
  // re-opening) must not bring the item's TTL forward under a newer one.
  const expiry = Math.max(entry.expiresAt, ...Object.values(read.entries).map((e) => e.expiresAt ?? 0));
  const values: Record<string, unknown> = { ':exp': expiry };
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
 * of that conversation that read the member list earlier then skips it (domain/fan-out.ts). Only a
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

/**
 * Remembers on the client's presence the room it just left by disconnecting, for a reconnect to
 * go back to, or with `undefined` forgets it (consumed by a rejoin, or an explicit quit or
 * logout). Only on an existing item: a client without one has no presence to come back to.
 */
export async function setLastRoom(ctx: Ctx, clientId: string, last: LastRoom | undefined): Promise<void> {
  const { db, config } = ctx.deps;
  await applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.presence,
        Key: { clientId },
        UpdateExpression: last === undefined ? 'REMOVE lastRoom' : 'SET lastRoom = :r',
        ConditionExpression: 'attribute_exists(clientId)',
        ...(last === undefined ? {} : { ExpressionAttributeValues: { ':r': last } }),
      }),
    ),
  );
}
