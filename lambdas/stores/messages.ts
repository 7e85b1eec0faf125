/**
 * The `messages` table by key: stored messages, and void markers for sequence numbers that will
 * never hold one.
 *
 * A send takes its seq (`ADD lastSeq`) before it writes the message, so for a moment — or for
 * ever, when the writer dies — a seq at or below `lastSeq` has no item. A member's delivered or
 * read point must not pass such a hole while a late write could still fill it: the message would
 * land behind the point and never be delivered or counted. Whoever needs to pass a hole closes it
 * first with a conditional put of a void marker; a writer that finds its seq voided takes a new
 * one (messages.ts). So every seq at or below any point is settled: a message, or void.
 */
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, type Item, applied } from './dynamo';
import { mapLimit } from '../domain/concurrency';
import type { MessageRecord } from '../domain/message-model';
import type { Ctx } from '../domain/context';

/** What occupies a seq: a message, or the marker that closed its hole. */
export interface VoidRecord {
  cid: string;
  seq: number;
  void: true;
  /** When the hole was closed (for operators reading the table). */
  voidedAt: number;
}

export type SeqRecord = MessageRecord | VoidRecord;

export const isVoid = (r: Item | SeqRecord): r is VoidRecord => (r as { void?: unknown }).void === true;

/**
 * Stores a message unless its seq is taken (by a racing resend of the same message, or by a void
 * marker). Returns whether this call wrote it.
 */
export async function putMessage(ctx: Ctx, m: MessageRecord): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(db.send(new PutCommand({ TableName: config.tables.messages, Item: m, ConditionExpression: 'attribute_not_exists(seq)' })));
}

/** Whatever occupies (cid, seq), strongly consistent: a message, a void marker, or nothing yet. */
export async function getSeq(ctx: Ctx, cid: string, seq: number): Promise<SeqRecord | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.messages, Key: { cid, seq }, ConsistentRead: true }));
  return res.Item as SeqRecord | undefined;
}

/** The stored message at (cid, seq), if one is there. */
export async function getMessage(ctx: Ctx, cid: string, seq: number): Promise<MessageRecord | undefined> {
  const r = await getSeq(ctx, cid, seq);
  return r && !isVoid(r) ? r : undefined;
}

/** Stored messages by (cid, seq), in one batched read; keyed `cid#seq`. Void seqs are left out. */
export async function getMessagesAt(ctx: Ctx, keys: { cid: string; seq: number }[]): Promise<Map<string, MessageRecord>> {
  const { db, config } = ctx.deps;
  const unique = [...new Map(keys.filter((k) => k.seq > 0).map((k) => [`${k.cid}#${k.seq}`, k])).values()];
  const items = (
    await batchGetAll(
      db,
      config.tables.messages,
      unique.map(({ cid, seq }) => ({ cid, seq })),
    )
  ).filter((i) => !isVoid(i)) as unknown as MessageRecord[];
  return new Map(items.map((m) => [`${m.cid}#${m.seq}`, m]));
}

/**
 * Closes the hole at (cid, seq). False when a message got there first (then it is stored and
 * must be treated as such).
 */
export async function voidSeq(ctx: Ctx, cid: string, seq: number): Promise<boolean> {
  const { db, config } = ctx.deps;
  const marker: VoidRecord = { cid, seq, void: true, voidedAt: ctx.now };
  return applied(
    db.send(new PutCommand({ TableName: config.tables.messages, Item: marker, ConditionExpression: 'attribute_not_exists(seq)' })),
  );
}

/** What a settled seq holds, as far as passing a point over it is concerned. */
export interface SettledSeq {
  seq: number;
  /** The sender, for a message; absent for a void seq. */
  from?: string;
}

const settled = (r: Item | SeqRecord): SettledSeq =>
  isVoid(r) ? { seq: r.seq as number } : { seq: r.seq as number, from: (r as MessageRecord).from };

/** The given seqs of one conversation that are occupied, in one batched consistent read (holes are absent). */
export async function readSeqs(ctx: Ctx, cid: string, seqs: number[]): Promise<Map<number, SettledSeq>> {
  const { db, config } = ctx.deps;
  const items = await batchGetAll(
    db,
    config.tables.messages,
    seqs.map((seq) => ({ cid, seq })),
    { projection: 'seq, #from, #void', names: { '#from': 'from', '#void': 'void' }, consistent: true },
  );
  return new Map(items.map((i) => [i.seq as number, settled(i)]));
}

/** Settles a hole at or below the conversation's `lastSeq`: voids it, or reads the message that filled it first. */
export async function settleHole(ctx: Ctx, cid: string, seq: number): Promise<SettledSeq> {
  if (await voidSeq(ctx, cid, seq)) return { seq };
  const there = await getSeq(ctx, cid, seq);
  return there ? settled(there) : { seq };
}

/**
 * Settles every seq in (after, upTo] by reading the range (keys only, paged) and voiding the
 * holes in it, reading at most `maxItems`. Returns the highest seq up to which the range is now
 * settled: `upTo`, or less when the bound stopped the walk.
 */
export async function settleRange(ctx: Ctx, cid: string, after: number, upTo: number, maxItems: number): Promise<number> {
  const { db, config } = ctx.deps;
  let next = after + 1;
  let start: Item | undefined;
  let read = 0;
  while (next <= upTo) {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.messages,
        KeyConditionExpression: 'cid = :cid AND seq BETWEEN :lo AND :hi',
        ProjectionExpression: 'seq',
        ExpressionAttributeValues: { ':cid': cid, ':lo': after + 1, ':hi': upTo },
        ConsistentRead: true,
        Limit: Math.min(1000, maxItems - read),
        ExclusiveStartKey: start,
      }),
    );
    const present = ((res.Items ?? []) as { seq: number }[]).map((i) => i.seq);
    read += present.length;
    start = res.LastEvaluatedKey as Item | undefined;
    // Everything between `next` and the last seq this page reached is either present or a hole.
    const reached = start ? Math.max(next - 1, ...present) : upTo;
    const have = new Set(present);
    const holes: number[] = [];
    for (let s = next; s <= reached; s++) if (!have.has(s)) holes.push(s);
    await mapLimit(holes, 8, (seq) => voidSeq(ctx, cid, seq));
    next = reached + 1;
    if (!start || read >= maxItems) return next - 1;
  }
  return upTo;
}
