/**
 * The `members` table: who is in which conversation (authoritative), and each member's delivered
 * and read points and mute flag. Keyed by (cid, clientId); the keys-only `byClient` index lists a
 * client's conversations. The member counter that enforces the member limit is on the
 * conversation item (stores/conversations.ts); writes that change membership move both, in the
 * domain (domain/membership.ts).
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, batchPutAll, countAll, queryAll, applied, isConditionFailed } from './dynamo';
import type { Ctx } from '../domain/context';

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

export function newMember(cid: string, clientId: string, now: number, joinedSeq: number): MemberRecord {
  return { cid, clientId, joinedAt: now, joinedSeq, deliveredSeq: joinedSeq, readSeq: joinedSeq, muted: false };
}

export async function getMember(ctx: Ctx, cid: string, clientId: string): Promise<MemberRecord | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.members, Key: { cid, clientId }, ConsistentRead: true }));
  return res.Item as MemberRecord | undefined;
}

/** Member records for (cid, clientId) pairs, strongly consistent. */
export async function getMemberPairs(ctx: Ctx, pairs: { cid: string; clientId: string }[]): Promise<MemberRecord[]> {
  const { db, config } = ctx.deps;
  return (await batchGetAll(db, config.tables.members, pairs, { consistent: true })) as unknown as MemberRecord[];
}

/** Which of `clientIds` are members of `cid` (strongly consistent; reads only the key). */
export async function memberIdsAmong(ctx: Ctx, cid: string, clientIds: string[]): Promise<string[]> {
  const { db, config } = ctx.deps;
  const items = await batchGetAll(
    db,
    config.tables.members,
    clientIds.map((clientId) => ({ cid, clientId })),
    {
      projection: 'clientId',
      consistent: true,
    },
  );
  return items.map((m) => m.clientId as string);
}

/** Writes members unconditionally (a new conversation's, which no one else can write yet). */
export async function putMembers(ctx: Ctx, members: MemberRecord[]): Promise<void> {
  const { db, config } = ctx.deps;
  await batchPutAll(db, config.tables.members, members as unknown as Record<string, unknown>[]);
}

/**
 * Writes a member unless the client already is one: true if this call added it, so that of
 * racing joins exactly one is reported (and counted) as the one that added the member.
 */
export async function putMemberIfAbsent(ctx: Ctx, member: MemberRecord): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(
    db.send(
      new PutCommand({
        TableName: config.tables.members,
        Item: member,
        ConditionExpression: 'attribute_not_exists(clientId)',
      }),
    ),
  );
}

/** Deletes a member if it is one: true if this call removed it. */
export async function deleteMemberIfPresent(ctx: Ctx, cid: string, clientId: string): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(
    db.send(
      new DeleteCommand({
        TableName: config.tables.members,
        Key: { cid, clientId },
        ConditionExpression: 'attribute_exists(clientId)',
      }),
    ),
  );
}

/** Exact member count (every page of a COUNT query). */
export async function countMembers(ctx: Ctx, cid: string): Promise<number> {
  const { db, config } = ctx.deps;
  return countAll(db, {
    TableName: config.tables.members,
    KeyConditionExpression: 'cid = :cid',
    ExpressionAttributeValues: { ':cid': cid },
    ConsistentRead: true,
  });
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
