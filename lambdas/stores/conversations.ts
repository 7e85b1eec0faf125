/**
 * The `conversations` table: conversation metadata, the member counter that enforces the member
 * limit, the message sequence counter, and `find`'s reads (the keys-only `byName` and `byCreator`
 * indexes and the bounded Scan). Members are in their own table (stores/members.ts).
 */
import { GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, applied, type Item } from './dynamo';
import { ImError } from '../protocol/errors';
import type { Ctx } from '../domain/context';

// prettier-ignore

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

export async function getConversations(ctx: Ctx, cids: string[]): Promise<ConversationRecord[]> {
  const { db, config } = ctx.deps;
  return (await batchGetAll(
    db,
    config.tables.conversations,
    cids.map((cid) => ({ cid })),
    { consistent: true },
  )) as unknown as ConversationRecord[];
}

/**
 * Adds `delta` to the member counter of an existing conversation; with `ifAtMost`, only while
 * the counter is at most that (domain/seats.ts says which value lets the seats fit). The check
 * and the ADD are one conditional write, so racing joins cannot pass the limit together.
 * False when the condition did not hold.
 */
export async function adjustMemberCount(ctx: Ctx, cid: string, delta: number, ifAtMost?: number): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.conversations,
        Key: { cid },
        UpdateExpression: 'ADD memberCount :d',
        ConditionExpression: ifAtMost === undefined ? 'attribute_exists(cid)' : 'attribute_exists(cid) AND memberCount <= :room',
        ExpressionAttributeValues: { ':d': delta, ...(ifAtMost === undefined ? {} : { ':room': ifAtMost }) },
      }),
    ),
  );
}

/** Overwrites the member counter with a recount (the repair of a counter that drifted). */
export async function setMemberCount(ctx: Ctx, cid: string, count: number): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(
    new UpdateCommand({
      TableName: config.tables.conversations,
      Key: { cid },
      UpdateExpression: 'SET memberCount = :actual',
      ConditionExpression: 'attribute_exists(cid)',
      ExpressionAttributeValues: { ':actual': count },
    }),
  );
}

/**
 * Ids of the conversations whose indexed `attr` is `value`, reading at most `atMost` of them
 * (pages are asked for no more than the rest, so a bound caps the cost, not just the answer).
 */
async function idsByIndex(
  ctx: Ctx,
  index: 'byName' | 'byCreator',
  attr: 'name' | 'creator',
  value: string,
  atMost: number,
): Promise<string[]> {
  const { db, config } = ctx.deps;
  const out: string[] = [];
  let start: Item | undefined;
  do {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.conversations,
        IndexName: index,
        // `name` is a reserved word; the value is bound, never spliced into the expression.
        KeyConditionExpression: '#k = :v',
        ExpressionAttributeNames: { '#k': attr },
        ExpressionAttributeValues: { ':v': value },
        Limit: atMost - out.length,
        ExclusiveStartKey: start,
      }),
    );
    out.push(...(res.Items ?? []).map((i) => i.cid as string));
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start && out.length < atMost);
  return out;
}

/** Ids of conversations with this name (`byName` index, keys only), at most `atMost`. */
export function conversationIdsByName(ctx: Ctx, name: string, atMost: number): Promise<string[]> {
  return idsByIndex(ctx, 'byName', 'name', name, atMost);
}

/** Ids of conversations with this creator (`byCreator` index, keys only), at most `atMost`. */
export function conversationIdsByCreator(ctx: Ctx, creator: string, atMost: number): Promise<string[]> {
  return idsByIndex(ctx, 'byCreator', 'creator', creator, atMost);
}

/**
 * Scans the conversations table, reading at most `atMost` conversations: `more` says the scan
 * stopped before the end of the table. The one Scan on a request path (`find` without an
 * indexed condition), so it is always bounded.
 */
export async function scanConversations(ctx: Ctx, atMost: number): Promise<{ conversations: ConversationRecord[]; more: boolean }> {
  const { db, config } = ctx.deps;
  const out: ConversationRecord[] = [];
  let start: Item | undefined;
  do {
    const res = await db.send(
      new ScanCommand({ TableName: config.tables.conversations, Limit: atMost - out.length, ExclusiveStartKey: start }),
    );
    out.push(...((res.Items ?? []) as unknown as ConversationRecord[]));
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start && out.length < atMost);
  return { conversations: out, more: start !== undefined };
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
