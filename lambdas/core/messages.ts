/** Sending, acknowledging and reading messages (PROTOCOL.md §7, §8, `query`). */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, type Item } from '../adapters/dynamo';
import { mapLimit } from './concurrency';
import {
  advancePoint,
  conversationProgress,
  getConversation,
  getMember,
  memberStates,
  type ConversationProgress,
} from './conversation-store';
import { postEvent, sendToClients, type Target } from './delivery';
import { ImError, isConditionFailed, applied } from './errors';
import { seqOfMessageId, storedMessageId, transientMessageId } from './ids';
import { claimKey, getKey } from './key-store';
import { WithFollowUp, type Ctx } from './route';
import type { Request } from './schemas';
import { messageView, type MessageRecord, type MessageView } from './message-model';
import { schedulePush, type PushJob } from './push';
import { sendToRoom } from './rooms';
import type { Session } from './session-store';
import { unreadCounts } from './unread';

/** `clientMsgId` de-duplication window. */
export const DEDUPE_TTL_SECONDS = 24 * 3600;

export interface SendResult {
  messageId: string;
  timestamp: number;
  seq?: number;
}

export function checkSize(ctx: Ctx, data: string): void {
  const bytes = Buffer.byteLength(data, 'utf8');
  const max = ctx.deps.config.maxMessageBytes;
  if (bytes > max) throw new ImError('FRAME_TOO_LONG', `data is ${bytes} bytes in UTF-8; the limit is ${max}`);
}

/** Who gets a conversation's messages: its members, or the connections in a chat room. */
export type Audience = { room: false; members: string[]; muted: Set<string> } | { room: true };

/**
 * The audience of `cid` if the sender belongs to it, else 4401 (missing conversations
 * included). A connection in a room sends to that room; otherwise the member list decides.
 */
export async function audienceFor(ctx: Ctx, cid: string, session: Session): Promise<Audience> {
  if (session.room === cid) return { room: true };
  const states = await memberStates(ctx, cid);
  const members = states.map((m) => m.clientId);
  if (!members.includes(session.clientId)) {
    const what =
      members.length === 0 && (await getConversation(ctx, cid))?.transient ? 'not in this chat room' : 'not a member of this conversation';
    throw new ImError('INVALID_MESSAGING_TARGET', what);
  }
  return { room: false, members, muted: new Set(states.filter((m) => m.muted).map((m) => m.clientId)) };
}

/**
 * Audiences this large are served after the reply (posted through @connections): the sender's
 * `ok` must not wait for hundreds or thousands of posts.
 */
export const FAN_OUT_AFTER_REPLY_ABOVE = 100;

function fansOutAfterReply(audience: Audience): boolean {
  return audience.room || audience.members.length > FAN_OUT_AFTER_REPLY_ABOVE;
}

/** Fan-out to everyone in the audience except the sending connection; returns the clients reached. */
async function deliver(ctx: Ctx, cid: string, audience: Audience, event: object): Promise<Set<string>> {
  if (audience.room) {
    await sendToRoom(ctx, cid, event, { except: ctx.connectionId });
    return new Set();
  }
  return (await sendToClients(ctx, audience.members, event, { except: ctx.connectionId })).reached;
}

/** Who gets a push: members other than the sender that no live connection took the message for, unless muted. */
function offlineRecipients(audience: Audience, reached: Set<string>, sender: string): string[] {
  if (audience.room) return [];
  return audience.members.filter((m) => m !== sender && !reached.has(m) && !audience.muted.has(m));
}

/**
 * Fans out and, for stored messages of normal conversations, starts the push worker for the
 * members left offline. Small audiences are served before the reply (the route response) and
 * the worker is started after it; large ones entirely after the reply.
 */
export async function replyAndDeliver<R extends object>(
  ctx: Ctx,
  cid: string,
  audience: Audience,
  event: object,
  result: R,
  push?: Omit<PushJob, 'recipients'>,
): Promise<R | WithFollowUp> {
  const schedule = (reached: Set<string>) =>
    push ? schedulePush(ctx, { ...push, recipients: offlineRecipients(audience, reached, push.from) }) : Promise.resolve();
  if (fansOutAfterReply(audience)) return new WithFollowUp(result, async () => schedule(await deliver(ctx, cid, audience, event)));
  const reached = await deliver(ctx, cid, audience, event);
  if (!push || !ctx.deps.sns || offlineRecipients(audience, reached, push.from).length === 0) return result;
  return new WithFollowUp(result, () => schedule(reached));
}

function pushFor(message: MessageRecord, pushData: Record<string, unknown> | undefined): Omit<PushJob, 'recipients'> {
  return { cid: message.cid, messageId: message.id, from: message.from, ...(pushData ? { pushData } : {}) };
}

async function nextSeq(ctx: Ctx, cid: string): Promise<number> {
  const { db, config } = ctx.deps;
  try {
    const res = await db.send(
      new UpdateCommand({
        TableName: config.tables.conversations,
        Key: { cid },
        UpdateExpression: 'ADD lastSeq :one SET lastMessageAt = :now',
        ConditionExpression: 'attribute_exists(cid)',
        ExpressionAttributeValues: { ':one': 1, ':now': ctx.now },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return res.Attributes!.lastSeq as number;
  } catch (err) {
    if (isConditionFailed(err)) throw new ImError('INVALID_MESSAGING_TARGET', 'conversation not found');
    throw err;
  }
}

/**
 * Stores a message unless its seq is taken. Returns whether this call wrote it: only the
 * writer fans out, so racing resends of one `clientMsgId` deliver it once.
 */
async function putMessage(ctx: Ctx, m: MessageRecord): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(db.send(new PutCommand({ TableName: config.tables.messages, Item: m, ConditionExpression: 'attribute_not_exists(seq)' })));
}

export async function getMessage(ctx: Ctx, cid: string, seq: number): Promise<MessageRecord | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.messages, Key: { cid, seq }, ConsistentRead: true }));
  return res.Item as MessageRecord | undefined;
}

/** Stored messages by (cid, seq), in one batched read; keyed `cid#seq`. */
export async function getMessagesAt(ctx: Ctx, keys: { cid: string; seq: number }[]): Promise<Map<string, MessageRecord>> {
  const { db, config } = ctx.deps;
  const unique = [...new Map(keys.filter((k) => k.seq > 0).map((k) => [`${k.cid}#${k.seq}`, k])).values()];
  const items = (await batchGetAll(
    db,
    config.tables.messages,
    unique.map(({ cid, seq }) => ({ cid, seq })),
  )) as unknown as MessageRecord[];
  return new Map(items.map((m) => [`${m.cid}#${m.seq}`, m]));
}

/**
 * The `_lctype` of a typed message (PROTOCOL.md §3), stored beside it so that history can be
 * filtered by type; nothing for other data.
 */
export function typeField(data: string): { lctype?: number } {
  if (!data.startsWith('{')) return {};
  try {
    const t = (JSON.parse(data) as { _lctype?: unknown })._lctype;
    return Number.isInteger(t) ? { lctype: t as number } : {};
  } catch {
    return {};
  }
}

/** A send's @-mentions as stored: de-duplicated, absent when there are none. */
function mentionFields(req: Pick<Request<'send'>, 'mentions' | 'mentionAll'>): { mentions?: string[]; mentionAll?: true } {
  const ids = [...new Set(req.mentions ?? [])];
  return { ...(ids.length > 0 ? { mentions: ids } : {}), ...(req.mentionAll ? { mentionAll: true as const } : {}) };
}

function dedupeKey(cid: string, from: string, clientMsgId: string): string {
  return `msg#${cid}#${from}#${clientMsgId}`;
}

/**
 * A resent `clientMsgId`: answer with the first result. If the first attempt died after its
 * claim but before its message was stored, store it now under the claimed id and seq.
 */
async function replayDuplicate(
  ctx: Ctx,
  claim: Item,
  req: Request<'send'>,
  me: string,
  audience: Audience,
): Promise<SendResult | WithFollowUp> {
  const first: MessageRecord = {
    cid: req.cid,
    seq: claim.seq as number,
    id: claim.messageId as string,
    from: me,
    data: req.data,
    timestamp: claim.timestamp as number,
    ...(req.receipt && !audience.room ? { receipt: true } : {}),
  };
  const result: SendResult = { messageId: first.id, timestamp: first.timestamp, seq: first.seq };
  if (!(await getMessage(ctx, req.cid, first.seq)) && (await putMessage(ctx, first))) {
    return replyAndDeliver(ctx, req.cid, audience, { event: 'message', message: messageView(first) }, result, pushFor(first, req.pushData));
  }
  return result;
}

export async function sendMessage(ctx: Ctx, req: Request<'send'>, session: Session): Promise<SendResult | WithFollowUp> {
  const me = session.clientId;
  checkSize(ctx, req.data);
  const audience = await audienceFor(ctx, req.cid, session);

  if (req.transient) {
    const message: MessageView = {
      id: transientMessageId(),
      cid: req.cid,
      from: me,
      data: req.data,
      timestamp: ctx.now,
      transient: true,
      ...mentionFields(req),
    };
    return replyAndDeliver(ctx, req.cid, audience, { event: 'message', message }, { messageId: message.id, timestamp: message.timestamp });
  }

  const key = req.clientMsgId ? dedupeKey(req.cid, me, req.clientMsgId) : undefined;
  if (key) {
    const claim = await getKey(ctx, key);
    if (claim) return replayDuplicate(ctx, claim, req, me, audience);
  }

  const seq = await nextSeq(ctx, req.cid);
  const message: MessageRecord = {
    cid: req.cid,
    seq,
    id: storedMessageId(seq),
    from: me,
    data: req.data,
    timestamp: ctx.now,
    // Rooms have no receipts.
    ...(req.receipt && !audience.room ? { receipt: true } : {}),
    ...mentionFields(req),
    ...typeField(req.data),
  };
  if (key) {
    const claimed = await claimKey(
      ctx,
      key,
      { cid: req.cid, seq, messageId: message.id, timestamp: message.timestamp },
      { ttlSeconds: DEDUPE_TTL_SECONDS },
    );
    if (!claimed) {
      // A concurrent resend won the claim; our seq stays unused (a gap `query` cannot fill).
      const winner = await getKey(ctx, key);
      if (winner) return replayDuplicate(ctx, winner, req, me, audience);
      throw new Error('dedupe claim vanished');
    }
  }
  // Durable before ok: the reply is only built after this write succeeded.
  const result: SendResult = { messageId: message.id, timestamp: message.timestamp, seq };
  if (!(await putMessage(ctx, message))) return result;
  return replyAndDeliver(
    ctx,
    req.cid,
    audience,
    { event: 'message', message: messageView(message) },
    result,
    pushFor(message, req.pushData),
  );
}

/** Receipts are remembered this long, so a re-ack never sends a second `delivered`. */
export const RECEIPT_TTL_SECONDS = 30 * 24 * 3600;

/**
 * `ack`: moves the member's delivered point to the highest acked message that really exists in
 * this conversation (ids are checked against storage, so forged ids cannot skip messages), and
 * sends each `receipt: true` message's sender one `delivered` event per recipient.
 */
export async function ackMessages(ctx: Ctx, req: Request<'ack'>, session: Session): Promise<object> {
  const { db, config } = ctx.deps;
  const me = session.clientId;
  const seqs = [...new Set(req.messageIds.map(seqOfMessageId).filter((s): s is number => s !== undefined))];
  if (seqs.length === 0) return {};
  const wanted = new Set(req.messageIds);
  const found = (
    await batchGetAll(
      db,
      config.tables.messages,
      seqs.map((seq) => ({ cid: req.cid, seq })),
      {
        projection: 'seq, id, #from, receipt',
        names: { '#from': 'from' },
      },
    )
  ).filter((m) => wanted.has(m.id as string)) as unknown as Pick<MessageRecord, 'seq' | 'id' | 'from' | 'receipt'>[];
  if (found.length === 0) return {};
  const top = Math.max(...found.map((m) => m.seq));
  if (!(await advancePoint(ctx, req.cid, me, 'deliveredSeq', top)) && !(await getMember(ctx, req.cid, me))) {
    return {}; // not a member (any more): nothing to record, no receipts
  }
  const receipts = found.filter((m) => m.receipt && m.from !== me);
  await mapLimit(receipts, 8, async (m) => {
    if (!(await claimKey(ctx, `rcpt#${req.cid}#${m.seq}#${me}`, {}, { ttlSeconds: RECEIPT_TTL_SECONDS }))) return;
    await sendToClients(ctx, [m.from], { event: 'delivered', cid: req.cid, messageId: m.id, deliveredAt: ctx.now, by: me });
  });
  return {};
}

/** Read receipts go to the other member of one-to-one conversations only (groups: `receipts.ts`). */
export const READ_RECEIPT_MAX_MEMBERS = 2;

/**
 * `read`: moves the read point to `messageId` (default: the newest message); the client's other
 * connections get the conversation's new unread count, and in a one-to-one conversation the
 * other member gets a `read` receipt when the point moved.
 */

export async function readMessages(ctx: Ctx, req: Request<'read'>, session: Session): Promise<object> {
  const me = session.clientId;
  const [member, conv] = await Promise.all([getMember(ctx, req.cid, me), getConversation(ctx, req.cid)]);
  if (!conv) throw new ImError('CONVERSATION_NOT_FOUND', 'conversation not found');
  if (!member) throw new ImError('OPERATION_UNAUTHORIZED', 'only members can mark a conversation read');
  let at: MessageRecord | undefined;
  if (req.messageId !== undefined) {
    const s = seqOfMessageId(req.messageId);
    at = s === undefined ? undefined : await getMessage(ctx, req.cid, s);
    if (!at || at.id !== req.messageId) throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'messageId is not a message of this conversation');
  }
  const seq = at?.seq ?? conv.lastSeq;
  const advanced = await advancePoint(ctx, req.cid, me, 'readSeq', seq);
  const [entry] = await unreadCounts(ctx, me, [{ cid: req.cid, readSeq: Math.max(seq, member.readSeq) }]);
  await sendToClients(
    ctx,
    [me],
    { event: 'unread', conversations: [{ cid: req.cid, unread: entry?.unread ?? 0 }] },
    { except: ctx.connectionId },
  );
  if (advanced && seq > member.joinedSeq && (conv.memberCount ?? 0) <= READ_RECEIPT_MAX_MEMBERS) {
    at ??= await getMessage(ctx, req.cid, seq);
    const others = (await memberStates(ctx, req.cid)).map((m) => m.clientId).filter((id) => id !== me);
    if (at && others.length > 0) {
      await sendToClients(ctx, others, { event: 'read', cid: req.cid, messageId: at.id, by: me, readAt: at.timestamp });
    }
  }
  return {};
}

/**
 * Ids of the stored messages of `cid` with timestamps in [from, to], newest first, at most `max`
 * (LeanCloud clients acknowledge by time range). Reads at most 1,000 items.
 */
export async function messageIdsBetween(ctx: Ctx, cid: string, from: number, to: number, max = 100): Promise<string[]> {
  const { db, config } = ctx.deps;
  const ids: string[] = [];
  let start: Item | undefined;
  let read = 0;
  do {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.messages,
        KeyConditionExpression: 'cid = :cid',
        ProjectionExpression: 'id, #ts',
        ExpressionAttributeNames: { '#ts': 'timestamp' },
        ExpressionAttributeValues: { ':cid': cid },
        ScanIndexForward: false,
        Limit: 200,
        ExclusiveStartKey: start,
      }),
    );
    const items = (res.Items ?? []) as { id: string; timestamp: number }[];
    read += items.length;
    for (const m of items) if (m.timestamp >= from && m.timestamp <= to && ids.length < max) ids.push(m.id);
    // Newest first: once past `from`, nothing older can match.
    if (items.some((m) => m.timestamp < from)) break;
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start && ids.length < max && read < 1000);
  return ids;
}

/** Reads bounded by this many items per `query` when filtering (by timestamp alone, or by type). */
const MAX_QUERY_READ = 5000;

/** One end of a history range: a message id (exact) or, without one, a timestamp. */
export interface HistoryBound {
  messageId?: string;
  timestamp?: number;
  /** Whether the bound message itself belongs to the range (LeanCloud's `tIncluded`). */
  inclusive?: boolean;
}

export interface HistoryRange {
  cid: string;
  limit: number;
  /** Newer end of the range (exclusive unless `inclusive`). */
  before?: HistoryBound;
  /** Older end of the range. */
  after?: HistoryBound;
  /** Which end the page starts from: the newest messages of the range (default) or the oldest. */
  from?: 'newest' | 'oldest';
  /** Only typed messages of this `_lctype` (read through at most MAX_QUERY_READ messages). */
  type?: number;
}

/**
 * A page of history, ordered oldest → newest either way. `hasMore` tells whether the range holds
 * more messages beyond the page, in the direction of paging.
 */
export async function queryHistory(ctx: Ctx, req: HistoryRange, session: Session): Promise<{ messages: MessageView[]; hasMore: boolean }> {
  const { db, config } = ctx.deps;
  // Room history is for the connections in the room; conversation history for members.
  if (session.room !== req.cid && !(await getMember(ctx, req.cid, session.clientId))) {
    if (!(await getConversation(ctx, req.cid))) throw new ImError('CONVERSATION_NOT_FOUND', 'conversation not found');
    throw new ImError('CONVERSATION_LOG_REJECTED', 'only members (for chat rooms: those in the room) can read its history');
  }
  const seqOf = (b: HistoryBound | undefined, which: string) => {
    if (b?.messageId === undefined) return undefined;
    const seq = seqOfMessageId(b.messageId);
    if (seq === undefined) throw new ImError('UNPARSEABLE_RAW_MESSAGE', `${which}.messageId is not a message id of this server`);
    return b.inclusive ? seq : which === 'before' ? seq - 1 : seq + 1;
  };
  // Message ids give exact sequence bounds; timestamps alone filter (seq order follows time).
  const hi = seqOf(req.before, 'before');
  const lo = seqOf(req.after, 'after');
  const keys =
    hi !== undefined && lo !== undefined
      ? ' AND seq BETWEEN :lo AND :hi'
      : hi !== undefined
        ? ' AND seq <= :hi'
        : lo !== undefined
          ? ' AND seq >= :lo'
          : '';
  const filters: string[] = [];
  const values: Item = { ':cid': req.cid };
  if (hi !== undefined) values[':hi'] = hi;
  if (lo !== undefined) values[':lo'] = lo;
  if (hi === undefined && req.before?.timestamp !== undefined) {
    filters.push(`#ts ${req.before.inclusive ? '<=' : '<'} :bt`);
    values[':bt'] = req.before.timestamp;
  }
  if (lo === undefined && req.after?.timestamp !== undefined) {
    filters.push(`#ts ${req.after.inclusive ? '>=' : '>'} :at`);
    values[':at'] = req.after.timestamp;
  }
  if (req.type !== undefined) {
    filters.push('lctype = :type');
    values[':type'] = req.type;
  }
  if (lo !== undefined && hi !== undefined && lo > hi) return { messages: [], hasMore: false };
  const page: Item[] = [];
  let start: Item | undefined;
  let read = 0;
  // One item more than asked tells whether the range goes on.
  do {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.messages,
        KeyConditionExpression: `cid = :cid${keys}`,
        ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
        ...(filters.some((f) => f.includes('#ts')) ? { ExpressionAttributeNames: { '#ts': 'timestamp' } } : {}),
        ExpressionAttributeValues: values,
        ScanIndexForward: req.from === 'oldest',
        Limit: req.limit + 1 - page.length,
        ExclusiveStartKey: start,
      }),
    );
    page.push(...((res.Items ?? []) as Item[]));
    read += res.ScannedCount ?? 0;
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start && page.length < req.limit + 1 && read < MAX_QUERY_READ);
  const hasMore = page.length > req.limit || (start !== undefined && page.length <= req.limit);
  const taken = page.slice(0, req.limit);
  if (req.from !== 'oldest') taken.reverse();
  return { messages: taken.map((m) => messageView(m as unknown as MessageRecord)), hasMore };
}

/** Offline delivery caps (PROTOCOL.md §5). */
export const OFFLINE_MAX_PER_CONVERSATION = 100;
export const OFFLINE_MAX_CONVERSATIONS = 50;

/**
 * After `open` in default mode: every stored message from others after the client's delivered
 * point, oldest first per conversation, to this connection only.
 */
export async function deliverOffline(
  ctx: Ctx,
  target: Target,
  memberships: { cid: string; deliveredSeq: number }[],
  known?: Map<string, ConversationProgress>,
): Promise<void> {
  const { db, config } = ctx.deps;
  if (memberships.length === 0) return;
  const progress =
    known ??
    (await conversationProgress(
      ctx,
      memberships.map((m) => m.cid),
    ));
  const pending = memberships
    .filter((m) => (progress.get(m.cid)?.lastSeq ?? 0) > m.deliveredSeq)
    .sort((a, b) => (progress.get(b.cid)!.lastMessageAt ?? 0) - (progress.get(a.cid)!.lastMessageAt ?? 0))
    .slice(0, OFFLINE_MAX_CONVERSATIONS);
  for (const m of pending) {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.messages,
        KeyConditionExpression: 'cid = :cid AND seq > :s',
        ExpressionAttributeValues: { ':cid': m.cid, ':s': m.deliveredSeq },
        ScanIndexForward: true,
        Limit: OFFLINE_MAX_PER_CONVERSATION,
      }),
    );
    for (const item of (res.Items ?? []) as unknown as MessageRecord[]) {
      if (item.from === target.clientId) continue;
      const outcome = await postEvent(ctx, target, { event: 'message', message: messageView(item, { offline: true }) });
      if (outcome === 'gone') return;
    }
  }
}
