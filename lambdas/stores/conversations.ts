/** Conversations and members in DynamoDB, and the conversation object clients see. */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, batchPutAll, queryAll, applied, isConditionFailed } from './dynamo';
import { mapLimit } from '../domain/concurrency';
import { ImError } from '../protocol/errors';
import type { ConversationView } from '../protocol/views';
import type { Ctx } from '../domain/context';

export const MAX_MEMBERS = 500;

export interface ConversationRecord {
  cid: string;
  /** Absent rather than null: it is the key of the `byName` index, which cannot hold NULL. */
  name?: string;
  creator: string;
  attributes: Record<string, unknown>;
  transient: boolean;
  unique: boolean;
  createdAt: number;
  updatedAt: number;
  lastMessageAt: number | null;
  /** Sequence number of the newest stored message (0 when none). */
  lastSeq: number;
  /**
   * Member count kept by conditional ADDs, so that racing joins cannot pass the limit. Counts
   * only; `count` and `members` are read from the members table.
   */
  memberCount: number;
}

export interface MemberRecord {
  cid: string;
  clientId: string;
  joinedAt: number;
  /** Conversation's lastSeq when the member joined: earlier messages are history. */
  joinedSeq: number;
  /** Every message up to this seq reached the member (delivered-point.ts): offline delivery resumes after it. */
  deliveredSeq: number;
  /** Acked seqs beyond `deliveredSeq`, waiting for the point to reach them (bounded). */
  ackedAhead?: Set<number>;
  readSeq: number;
  muted: boolean;
}

export function conversationView(c: ConversationRecord, members: string[] | undefined, muted: boolean): ConversationView {
  return {
    cid: c.cid,
    name: c.name ?? null,
    creator: c.creator,
    ...(c.transient ? {} : { members: members ?? [] }),
    attributes: c.attributes ?? {},
    transient: c.transient === true,
    unique: c.unique === true,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    lastMessageAt: c.lastMessageAt ?? null,
    muted,
  };
}

export async function getConversation(ctx: Ctx, cid: string): Promise<ConversationRecord | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.conversations, Key: { cid }, ConsistentRead: true }));
  return res.Item as ConversationRecord | undefined;
}

/** Fails with ConditionalCheckFailedException if the cid is taken. */
export async function putConversation(ctx: Ctx, c: ConversationRecord): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(new PutCommand({ TableName: config.tables.conversations, Item: c, ConditionExpression: 'attribute_not_exists(cid)' }));
}

/**
 * Writes a conversation's name, attributes and updatedAt if it was not updated since
 * `expectedUpdatedAt` (false otherwise: re-read and retry).
 */
export async function replaceConversationDetails(ctx: Ctx, c: ConversationRecord, expectedUpdatedAt: number): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.conversations,
        Key: { cid: c.cid },
        UpdateExpression: `SET attributes = :a, updatedAt = :u${c.name !== undefined ? ', #n = :n' : ' REMOVE #n'}`,
        ConditionExpression: 'updatedAt = :old',
        ExpressionAttributeNames: { '#n': 'name' },
        ExpressionAttributeValues: {
          ':a': c.attributes,
          ':u': c.updatedAt,
          ':old': expectedUpdatedAt,
          ...(c.name !== undefined ? { ':n': c.name } : {}),
        },
      }),
    ),
  );
}

/** The conversation or 4303. */
export async function requireConversation(ctx: Ctx, cid: string): Promise<ConversationRecord> {
  const conv = await getConversation(ctx, cid);
  if (!conv) throw new ImError('CONVERSATION_NOT_FOUND', 'conversation not found');
  return conv;
}

/** Exact member count (every page of a COUNT query). */
export async function countMembers(ctx: Ctx, cid: string): Promise<number> {
  const { db, config } = ctx.deps;
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.members,
        KeyConditionExpression: 'cid = :cid',
        ExpressionAttributeValues: { ':cid': cid },
        Select: 'COUNT',
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    count += res.Count ?? 0;
    start = res.LastEvaluatedKey;
  } while (start);
  return count;
}

async function adjustMemberCount(ctx: Ctx, cid: string, delta: number, limit?: number): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.conversations,
        Key: { cid },
        UpdateExpression: 'ADD memberCount :d',
        ConditionExpression: limit === undefined ? 'attribute_exists(cid)' : 'attribute_exists(cid) AND memberCount <= :room',
        ExpressionAttributeValues: { ':d': delta, ...(limit === undefined ? {} : { ':room': limit - delta }) },
      }),
    ),
  );
}

/**
 * Reserves `n` seats under the member limit. The counter can drift upwards if a writer died
 * between reserving and writing members; when it says "full", it is recounted and repaired once.
 */
async function reserveSeats(ctx: Ctx, cid: string, n: number): Promise<boolean> {
  if (await adjustMemberCount(ctx, cid, n, MAX_MEMBERS)) return true;
  const { db, config } = ctx.deps;
  const actual = await countMembers(ctx, cid);
  if (actual + n > MAX_MEMBERS) return false;
  await db.send(
    new UpdateCommand({
      TableName: config.tables.conversations,
      Key: { cid },
      UpdateExpression: 'SET memberCount = :actual',
      ConditionExpression: 'attribute_exists(cid)',
      ExpressionAttributeValues: { ':actual': actual },
    }),
  );
  return adjustMemberCount(ctx, cid, n, MAX_MEMBERS);
}

export interface MembershipChange {
  changed: string[];
  unchanged: string[];
}

/**
 * Adds members with one conditional put each, so exactly the clients that were not members are
 * reported as added. Seats are reserved first; 4304 when they do not fit.
 */
export async function addMembers(ctx: Ctx, conv: ConversationRecord, clientIds: string[]): Promise<MembershipChange> {
  const { db, config } = ctx.deps;
  const existing = new Set(
    (
      await batchGetAll(
        db,
        config.tables.members,
        clientIds.map((clientId) => ({ cid: conv.cid, clientId })),
        {
          projection: 'clientId',
          consistent: true,
        },
      )
    ).map((m) => m.clientId as string),
  );
  const candidates = clientIds.filter((c) => !existing.has(c));
  if (candidates.length === 0) return { changed: [], unchanged: clientIds };
  if (!(await reserveSeats(ctx, conv.cid, candidates.length))) {
    throw new ImError('CONVERSATION_FULL', `a conversation has at most ${MAX_MEMBERS} members`);
  }
  const added = await mapLimit(candidates, 16, async (clientId) => {
    return applied(
      db.send(
        new PutCommand({
          TableName: config.tables.members,
          Item: newMember(conv.cid, clientId, ctx.now, conv.lastSeq),
          ConditionExpression: 'attribute_not_exists(clientId)',
        }),
      ),
    );
  }).catch(async (err: unknown) => {
    await adjustMemberCount(ctx, conv.cid, -candidates.length).catch(() => undefined);
    throw err;
  });
  const changed = candidates.filter((_, i) => added[i]);
  if (changed.length < candidates.length) await adjustMemberCount(ctx, conv.cid, changed.length - candidates.length);
  return { changed, unchanged: clientIds.filter((c) => !changed.includes(c)) };
}

/** Removes members with one conditional delete each; reports who really was removed. */
export async function removeMembers(ctx: Ctx, cid: string, clientIds: string[]): Promise<MembershipChange> {
  const { db, config } = ctx.deps;
  const removed = await mapLimit(clientIds, 16, async (clientId) => {
    return applied(
      db.send(
        new DeleteCommand({
          TableName: config.tables.members,
          Key: { cid, clientId },
          ConditionExpression: 'attribute_exists(clientId)',
        }),
      ),
    );
  });
  const changed = clientIds.filter((_, i) => removed[i]);
  if (changed.length > 0) await adjustMemberCount(ctx, cid, -changed.length);
  return { changed, unchanged: clientIds.filter((c) => !changed.includes(c)) };
}

/** Member records for (cid, clientId) pairs, strongly consistent. */
export async function getMemberPairs(ctx: Ctx, pairs: { cid: string; clientId: string }[]): Promise<MemberRecord[]> {
  const { db, config } = ctx.deps;
  return (await batchGetAll(db, config.tables.members, pairs, { consistent: true })) as unknown as MemberRecord[];
}

/**
 * Sets one attribute of a member record; false when the client is not a member, or when
 * `onlyForward` and the stored value is already at or past `value`.
 */
async function updateMember(ctx: Ctx, cid: string, clientId: string, attr: string, value: unknown, onlyForward = false): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.members,
        Key: { cid, clientId },
        UpdateExpression: 'SET #a = :v',
        ConditionExpression: onlyForward ? 'attribute_exists(clientId) AND #a < :v' : 'attribute_exists(clientId)',
        ExpressionAttributeNames: { '#a': attr },
        ExpressionAttributeValues: { ':v': value },
      }),
    ),
  );
}

export function setMuted(ctx: Ctx, cid: string, clientId: string, muted: boolean): Promise<boolean> {
  return updateMember(ctx, cid, clientId, 'muted', muted);
}

/** Moves a member's read point forward only. */
export function advanceReadPoint(ctx: Ctx, cid: string, clientId: string, seq: number): Promise<boolean> {
  return updateMember(ctx, cid, clientId, 'readSeq', seq, true);
}

/**
 * Records acked seqs on the member (a number set, so concurrent acks never overwrite each other)
 * and returns the member as it now is; undefined when the client is not a member.
 */
export async function addAcks(ctx: Ctx, cid: string, clientId: string, seqs: number[]): Promise<MemberRecord | undefined> {
  const { db, config } = ctx.deps;
  try {
    const res = await db.send(
      new UpdateCommand({
        TableName: config.tables.members,
        Key: { cid, clientId },
        UpdateExpression: 'ADD ackedAhead :s',
        ConditionExpression: 'attribute_exists(clientId)',
        ExpressionAttributeValues: { ':s': new Set(seqs) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return res.Attributes as MemberRecord;
  } catch (err) {
    if (isConditionFailed(err)) return undefined;
    throw err;
  }
}

/**
 * Moves a member's delivered point from `from` to `to` and forgets the acks it no longer needs,
 * if the point is still `from` (false otherwise: re-read and recompute).
 */
export async function moveDeliveredPoint(
  ctx: Ctx,
  cid: string,
  clientId: string,
  from: number,
  to: number,
  forget: number[],
): Promise<boolean> {
  const { db, config } = ctx.deps;
  const parts = [...(to !== from ? ['SET deliveredSeq = :to'] : []), ...(forget.length > 0 ? ['DELETE ackedAhead :forget'] : [])];
  if (parts.length === 0) return true;
  return applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.members,
        Key: { cid, clientId },
        UpdateExpression: parts.join(' '),
        ConditionExpression: 'deliveredSeq = :from',
        ExpressionAttributeValues: {
          ':from': from,
          ...(to !== from ? { ':to': to } : {}),
          ...(forget.length > 0 ? { ':forget': new Set(forget) } : {}),
        },
      }),
    ),
  );
}

export async function getConversations(ctx: Ctx, cids: string[]): Promise<ConversationRecord[]> {
  const { db, config } = ctx.deps;
  return (await batchGetAll(
    db,
    config.tables.conversations,
    cids.map((cid) => ({ cid })),
    { consistent: true },
  )) as unknown as ConversationRecord[];
}

export function newMember(cid: string, clientId: string, now: number, joinedSeq: number): MemberRecord {
  return { cid, clientId, joinedAt: now, joinedSeq, deliveredSeq: joinedSeq, readSeq: joinedSeq, muted: false };
}

export async function putMembers(ctx: Ctx, members: MemberRecord[]): Promise<void> {
  const { db, config } = ctx.deps;
  await batchPutAll(db, config.tables.members, members as unknown as Record<string, unknown>[]);
}

export async function getMember(ctx: Ctx, cid: string, clientId: string): Promise<MemberRecord | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.members, Key: { cid, clientId }, ConsistentRead: true }));
  return res.Item as MemberRecord | undefined;
}

/** All member client ids of a conversation (strongly consistent, every page). */
export async function memberIds(ctx: Ctx, cid: string): Promise<string[]> {
  return (await memberStates(ctx, cid)).map((m) => m.clientId);
}

/** Member ids with their mute flags and join times (strongly consistent, every page): what a send needs. */
export async function memberStates(ctx: Ctx, cid: string): Promise<{ clientId: string; muted: boolean; joinedAt: number }[]> {
  const records = await memberRecords(ctx, cid, 'clientId, muted, joinedAt');
  return records.map((m) => ({ clientId: m.clientId, muted: m.muted === true, joinedAt: m.joinedAt }));
}

/**
 * Every member record of a conversation (bounded by the 500-member limit), strongly consistent;
 * with `projection`, only those attributes of each.
 */
export async function memberRecords(ctx: Ctx, cid: string, projection?: string): Promise<MemberRecord[]> {
  const { db, config } = ctx.deps;
  const items = await queryAll(db, {
    TableName: config.tables.members,
    KeyConditionExpression: 'cid = :cid',
    ExpressionAttributeValues: { ':cid': cid },
    ...(projection ? { ProjectionExpression: projection } : {}),
    ConsistentRead: true,
  });
  return items as unknown as MemberRecord[];
}

/**
 * Conversation ids of one client through the `byClient` index (keys only, eventually
 * consistent), reading at most `max` (pass a bound on request paths that can't afford more).
 */
export async function conversationIdsOf(ctx: Ctx, clientId: string, max = Infinity): Promise<string[]> {
  const { db, config } = ctx.deps;
  const items = await queryAll(
    db,
    {
      TableName: config.tables.members,
      IndexName: 'byClient',
      KeyConditionExpression: 'clientId = :c',
      ExpressionAttributeValues: { ':c': clientId },
    },
    max,
  );
  return items.map((i) => i.cid as string);
}

/**
 * A client's member records: the index names the conversations, the table (strongly
 * consistent) gives their current state and drops memberships that just ended.
 */
export async function membershipsOf(ctx: Ctx, clientId: string): Promise<MemberRecord[]> {
  const cids = await conversationIdsOf(ctx, clientId);
  return getMemberPairs(
    ctx,
    cids.map((cid) => ({ cid, clientId })),
  );
}

/** Sequence progress of many conversations: one BatchGetItem per 100. */
/** What login-time work needs to know of each conversation, without its member list. */
export interface ConversationProgress {
  lastSeq: number;
  lastMessageAt: number | null;
  /** Time of the latest edit or recall of one of its messages, if any. */
  lastPatchAt: number | null;
}

export async function conversationProgress(ctx: Ctx, cids: string[]): Promise<Map<string, ConversationProgress>> {
  const { db, config } = ctx.deps;
  const items = await batchGetAll(
    db,
    config.tables.conversations,
    cids.map((cid) => ({ cid })),
    {
      projection: 'cid, lastSeq, lastMessageAt, lastPatchAt',
    },
  );
  return new Map(
    items.map((c) => [
      c.cid as string,
      {
        lastSeq: (c.lastSeq as number) ?? 0,
        lastMessageAt: (c.lastMessageAt as number | null) ?? null,
        lastPatchAt: (c.lastPatchAt as number | undefined) ?? null,
      },
    ]),
  );
}

// ---------------------------------------------------------------------------------------------
// The conversation item's message counters, written by the message use cases (domain/messaging.ts,
// domain/message-edits.ts); the messages themselves are in stores/messages.ts.

/**
 * Takes the conversation's next sequence number for a message about to be stored. The ADD is
 * atomic, so concurrent sends get distinct seqs without reading first; undefined when the
 * conversation does not exist (the condition keeps the ADD from creating an item).
 */
export async function allocateSeq(ctx: Ctx, cid: string): Promise<number | undefined> {
  const { db, config } = ctx.deps;
  let seq: number | undefined;
  const taken = await applied(
    db
      .send(
        new UpdateCommand({
          TableName: config.tables.conversations,
          Key: { cid },
          UpdateExpression: 'ADD lastSeq :one SET lastMessageAt = :now',
          ConditionExpression: 'attribute_exists(cid)',
          ExpressionAttributeValues: { ':one': 1, ':now': ctx.now },
          ReturnValues: 'UPDATED_NEW',
        }),
      )
      .then((res) => {
        seq = res.Attributes!.lastSeq as number;
      }),
  );
  return taken ? seq : undefined;
}

/**
 * The conversation remembers its latest edit, so that catching up skips untouched conversations.
 * Only ever moves forward; a missing conversation or a later edit already noted leaves it as is.
 */
export async function notePatch(ctx: Ctx, cid: string, at: number): Promise<void> {
  const { db, config } = ctx.deps;
  await applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.conversations,
        Key: { cid },
        UpdateExpression: 'SET lastPatchAt = :t',
        ConditionExpression: 'attribute_exists(cid) AND (attribute_not_exists(lastPatchAt) OR lastPatchAt < :t)',
        ExpressionAttributeValues: { ':t': at },
      }),
    ),
  );
}
