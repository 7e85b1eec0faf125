/**
 * The `messages` table by key: stored messages, and void markers for sequence numbers that will
 * never hold one.
 *
 * A send takes its seq (`ADD lastSeq`) before it writes the message, so for a moment — or for
 * ever, when the writer dies — a seq at or below `lastSeq` has no item. A member's delivered or
 * read point must not pass such a hole while a late write could still fill it: the message would
 * land behind the point and never be delivered or counted. Whoever needs to pass a hole closes it
 * first with a conditional put of a void marker; a writer that finds its seq voided takes a new
 * one (domain/messaging.ts). So every seq at or below any point is settled: a message, or void.
 *
 * This module is the only one that reads or writes the table; the use cases say what they need
 * (a range of seqs, the items after a point, a rewrite) and never build expressions themselves.
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, type Item, applied } from './dynamo';
import { mapLimit } from '../domain/concurrency';
import type { Ctx } from '../domain/context';

/** A stored message as the table holds it (the message object clients see is domain/message-model.ts). */
export interface MessageRecord {
  cid: string;
  seq: number;
  id: string;
  from: string;
  data: string;
  timestamp: number;
  receipt?: boolean;
  /** Clients it @-mentions, and whether it mentions everyone. */
  mentions?: string[];
  mentionAll?: boolean;
  /** `_lctype` of a typed message, for history by type. */
  lctype?: number;
  /** When the sender last edited or recalled it. */
  updatedAt?: number;
  recalled?: boolean;
  /** Which send call wrote it (never shown to clients): tells a retried put of its own from a racing resend. */
  writer?: string;
}

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
 * Follows a Query over the table page by page. `next` sees each page and answers the Limit of the
 * next one, or undefined to stop. Every walk here stops for its own reason (a full page or a spent
 * read bound for history, passing the older end for a time range, reaching the seq bound when
 * settling), so the stop rule is the caller's and only the following of LastEvaluatedKey is shared.
 * Returns whether the table held more beyond the last page read.
 */
async function pageThrough(
  ctx: Ctx,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>,
  next: (page: { items: Item[]; scanned: number; more: boolean }) => number | undefined | Promise<number | undefined>,
): Promise<boolean> {
  let start: Item | undefined;
  let limit = input.Limit;
  for (;;) {
    const res = await ctx.deps.db.send(new QueryCommand({ ...input, Limit: limit, ExclusiveStartKey: start }));
    start = res.LastEvaluatedKey as Item | undefined;
    const more = start !== undefined;
    const following = await next({ items: (res.Items ?? []) as Item[], scanned: res.ScannedCount ?? 0, more });
    if (!more || following === undefined) return more;
    limit = following;
  }
}

/**
 * Settles every seq in (after, upTo] by reading the range (keys only, paged) and voiding the
 * holes in it, reading at most `maxItems`. Returns the highest seq up to which the range is now
 * settled: `upTo`, or less when the bound stopped the walk.
 */
export async function settleRange(ctx: Ctx, cid: string, after: number, upTo: number, maxItems: number): Promise<number> {
  if (after >= upTo) return upTo;
  let next = after + 1;
  let read = 0;
  const input = {
    TableName: ctx.deps.config.tables.messages,
    KeyConditionExpression: 'cid = :cid AND seq BETWEEN :lo AND :hi',
    ProjectionExpression: 'seq',
    ExpressionAttributeValues: { ':cid': cid, ':lo': after + 1, ':hi': upTo },
    ConsistentRead: true,
    Limit: Math.min(1000, maxItems),
  };
  await pageThrough(ctx, input, async ({ items, more }) => {
    const present = (items as { seq: number }[]).map((i) => i.seq);
    read += present.length;
    // Everything between `next` and the last seq this page reached is either present or a hole.
    let reached = more ? Math.max(next - 1, ...present) : upTo;
    const have = new Set(present);
    const holes: number[] = [];
    // Holes count against the bound too (each is a write): past it, the walk stops before the next.
    for (let s = next; s <= reached; s++) {
      if (have.has(s)) continue;
      if (read + holes.length >= maxItems) {
        reached = s - 1;
        break;
      }
      holes.push(s);
    }
    read += holes.length;
    await mapLimit(holes, 8, (seq) => voidSeq(ctx, cid, seq));
    next = reached + 1;
    return read < maxItems && next <= upTo ? Math.min(1000, maxItems - read) : undefined;
  });
  return next - 1;
}

/**
 * What occupies the seqs after `seq`, void markers included, in one request of at most `limit`
 * items starting from the oldest or the newest end. Offline delivery reads forward from the
 * delivered point, unread counting back from the newest to the read point: the same range, read
 * from either end.
 */
export async function seqsAfter(
  ctx: Ctx,
  cid: string,
  seq: number,
  opts: { from: 'oldest' | 'newest'; limit: number },
): Promise<SeqRecord[]> {
  const { db, config } = ctx.deps;
  const res = await db.send(
    new QueryCommand({
      TableName: config.tables.messages,
      KeyConditionExpression: 'cid = :cid AND seq > :s',
      ExpressionAttributeValues: { ':cid': cid, ':s': seq },
      ScanIndexForward: opts.from === 'oldest',
      Limit: opts.limit,
    }),
  );
  return (res.Items ?? []) as unknown as SeqRecord[];
}

/** What an ack needs of a message: its id to check the client's, the sender and the receipt flag. */
export type MessageHead = Pick<MessageRecord, 'seq' | 'id' | 'from' | 'receipt'>;

/**
 * The heads of the messages at the given seqs of one conversation, in one batched read; void
 * seqs and holes are left out (an ack of them records nothing).
 */
export async function messageHeadsAt(ctx: Ctx, cid: string, seqs: number[]): Promise<MessageHead[]> {
  const { db, config } = ctx.deps;
  const items = await batchGetAll(
    db,
    config.tables.messages,
    seqs.map((seq) => ({ cid, seq })),
    // Consistent: an ack right after a live post must find the message it acknowledges.
    { projection: 'seq, id, #from, receipt', names: { '#from': 'from' }, consistent: true },
  );
  // A void marker has no id (and the projection leaves `void` out).
  return items.filter((i) => typeof i.id === 'string') as unknown as MessageHead[];
}

/** Items one time-range walk reads per request, and in all: the range is found by reading back from the newest. */
const TIME_RANGE_PAGE = 200;
const TIME_RANGE_MAX_READ = 1000;

/**
 * Ids of the stored messages of `cid` with timestamps in [from, to], newest first, at most `max`.
 * Timestamps are no key, so this reads back from the newest message and stops once past `from`
 * (seq order follows time), or after TIME_RANGE_MAX_READ items.
 */
export async function idsInTimeRange(ctx: Ctx, cid: string, from: number, to: number, max: number): Promise<string[]> {
  const ids: string[] = [];
  let read = 0;
  const input = {
    TableName: ctx.deps.config.tables.messages,
    KeyConditionExpression: 'cid = :cid',
    ProjectionExpression: 'id, #ts',
    ExpressionAttributeNames: { '#ts': 'timestamp' },
    ExpressionAttributeValues: { ':cid': cid },
    ScanIndexForward: false,
    Limit: TIME_RANGE_PAGE,
  };
  await pageThrough(ctx, input, ({ items: page }) => {
    // Void markers carry neither.
    const items = (page as { id?: string; timestamp?: number }[]).filter(
      (m): m is { id: string; timestamp: number } => m.id !== undefined && m.timestamp !== undefined,
    );
    read += items.length;
    for (const m of items) if (m.timestamp >= from && m.timestamp <= to && ids.length < max) ids.push(m.id);
    // Newest first: once past `from`, nothing older can match.
    if (items.some((m) => m.timestamp < from)) return undefined;
    return ids.length < max && read < TIME_RANGE_MAX_READ ? TIME_RANGE_PAGE : undefined;
  });
  return ids;
}

/** A timestamp end of a history range; timestamps are no key, so it filters. */
export interface TimeBound {
  timestamp: number;
  inclusive: boolean;
}

/**
 * A history read as the table runs it (built by domain/history.ts `historyPlan`): seq bounds are
 * the key condition, everything else filters what the key range yields.
 */
export interface HistoryPlan {
  cid: string;
  /** Inclusive seq bounds. */
  keys: { lo?: number; hi?: number };
  filters: { before?: TimeBound; after?: TimeBound; lctype?: number };
  /** Which end of the range the page starts from. */
  from: 'newest' | 'oldest';
  limit: number;
  /** Items read at most: filters can leave a page short after many reads. */
  maxRead: number;
}

/**
 * A page of history, oldest → newest, void seqs left out. `hasMore` tells whether the range holds
 * more beyond the page, in the direction of paging.
 */
export async function historyPage(ctx: Ctx, plan: HistoryPlan): Promise<{ messages: MessageRecord[]; hasMore: boolean }> {
  const { lo, hi } = plan.keys;
  const { before, after, lctype } = plan.filters;
  const keys =
    lo !== undefined && hi !== undefined
      ? ' AND seq BETWEEN :lo AND :hi'
      : hi !== undefined
        ? ' AND seq <= :hi'
        : lo !== undefined
          ? ' AND seq >= :lo'
          : '';
  const filters: string[] = ['attribute_not_exists(#void)'];
  const values: Item = { ':cid': plan.cid };
  if (hi !== undefined) values[':hi'] = hi;
  if (lo !== undefined) values[':lo'] = lo;
  if (before) {
    filters.push(`#ts ${before.inclusive ? '<=' : '<'} :bt`);
    values[':bt'] = before.timestamp;
  }
  if (after) {
    filters.push(`#ts ${after.inclusive ? '>=' : '>'} :at`);
    values[':at'] = after.timestamp;
  }
  if (lctype !== undefined) {
    filters.push('lctype = :type');
    values[':type'] = lctype;
  }
  // One item more than asked tells whether the range goes on.
  const want = plan.limit + 1;
  const page: Item[] = [];
  let read = 0;
  const input = {
    TableName: ctx.deps.config.tables.messages,
    KeyConditionExpression: `cid = :cid${keys}`,
    FilterExpression: filters.join(' AND '),
    ExpressionAttributeNames: { '#void': 'void', ...(before || after ? { '#ts': 'timestamp' } : {}) },
    ExpressionAttributeValues: values,
    ScanIndexForward: plan.from === 'oldest',
    Limit: want,
  };
  const more = await pageThrough(ctx, input, ({ items, scanned }) => {
    page.push(...items);
    read += scanned;
    return page.length < want && read < plan.maxRead ? want - page.length : undefined;
  });
  const hasMore = page.length > plan.limit || (more && page.length <= plan.limit);
  const taken = page.slice(0, plan.limit) as unknown as MessageRecord[];
  if (plan.from !== 'oldest') taken.reverse();
  return { messages: taken, hasMore };
}

/**
 * Writes an edit or recall over the stored message, unless it was recalled meanwhile (a recall is
 * final) or is not `m.from`'s. Returns whether it was written.
 */
export async function rewriteMessage(ctx: Ctx, m: MessageRecord): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.messages,
        Key: { cid: m.cid, seq: m.seq },
        UpdateExpression:
          `SET #data = :d, updatedAt = :u${m.recalled ? ', recalled = :r' : ''}` +
          (m.lctype !== undefined ? ', lctype = :t' : ' REMOVE lctype'),
        ConditionExpression: '#from = :me AND attribute_not_exists(recalled)',
        ExpressionAttributeNames: { '#data': 'data', '#from': 'from' },
        ExpressionAttributeValues: {
          ':d': m.data,
          ':u': m.updatedAt,
          ':me': m.from,
          ...(m.recalled ? { ':r': true } : {}),
          ...(m.lctype !== undefined ? { ':t': m.lctype } : {}),
        },
      }),
    ),
  );
}

/**
 * The newest `max` messages of `cid` edited or recalled after `since` (ms), oldest change first,
 * through the sparse `byUpdate` index (only changed messages carry `updatedAt`).
 */
export async function changedMessages(ctx: Ctx, cid: string, since: number, max: number): Promise<MessageRecord[]> {
  const { db, config } = ctx.deps;
  const res = await db.send(
    new QueryCommand({
      TableName: config.tables.messages,
      IndexName: 'byUpdate',
      KeyConditionExpression: 'cid = :c AND updatedAt > :t',
      ExpressionAttributeValues: { ':c': cid, ':t': since },
      ScanIndexForward: false,
      Limit: max,
    }),
  );
  return ((res.Items ?? []) as unknown as MessageRecord[]).reverse();
}
