/** Sending, acknowledging and reading messages (PROTOCOL.md §7, §8, `query`). */
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, type Item, isConditionFailed } from '../stores/dynamo';
import { mapLimit } from './concurrency';
import {
  advanceReadPoint,
  conversationProgress,
  getConversation,
  addAcks,
  getMember,
  memberStates,
  moveDeliveredPoint,
  type ConversationProgress,
  type MemberRecord,
} from '../stores/conversations';
import { ACK_GAP_LOOKUP_MAX, advanceDeliveredPoint, gapsToExamine } from './delivered-point';
import { postEvent, sendToClients, type Target } from './fan-out';
import { ImError } from '../protocol/errors';
import { seqOfMessageId, storedMessageId, transientMessageId } from './ids';
import { claimKey, getKey } from '../stores/keys';
import { getMessage, getSeq, isVoid, putMessage, readSeqs, settleHole, settleRange, type SeqRecord } from '../stores/messages';
import { WithFollowUp, type Ctx } from './context';
import type { Request } from '../protocol/schemas';
import type { ServerEvent } from '../protocol/events';
import { messageView, type MessageRecord } from './message-model';
import { type MessageView } from '../protocol/views';
import { schedulePush, type PushJob } from './push';
import { sendToRoom } from './rooms';
import type { Session } from '../stores/connections';
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
export type Audience = { room: false; members: string[]; muted: Set<string>; joinedAt: Map<string, number> } | { room: true };

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
  return {
    room: false,
    members,
    muted: new Set(states.filter((m) => m.muted).map((m) => m.clientId)),
    joinedAt: new Map(states.map((m) => [m.clientId, m.joinedAt])),
  };
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
async function deliver(ctx: Ctx, cid: string, audience: Audience, event: ServerEvent): Promise<Set<string>> {
  if (audience.room) {
    await sendToRoom(ctx, cid, event, { except: ctx.connectionId });
    return new Set();
  }
  return (await sendToClients(ctx, audience.members, event, { except: ctx.connectionId, scope: { cid, joinedAt: audience.joinedAt } }))
    .reached;
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
  event: ServerEvent,
  result: R,
  push?: Omit<PushJob, 'recipients'>,
): Promise<R | WithFollowUp> {
  const schedule = (reached: Set<string>) =>
    push ? schedulePush(ctx, { ...push, recipients: offlineRecipients(audience, reached, push.from) }) : Promise.resolve();
  if (fansOutAfterReply(audience)) return new WithFollowUp(result, async () => schedule(await deliver(ctx, cid, audience, event)));
  const reached = await deliver(ctx, cid, audience, event);
  if (!push || !ctx.deps.push || offlineRecipients(audience, reached, push.from).length === 0) return result;
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

/** Where a stored message goes: its seq, id and timestamp, taken together. */
interface Slot {
  seq: number;
  id: string;
  timestamp: number;
}

async function newSlot(ctx: Ctx, cid: string): Promise<Slot> {
  const seq = await nextSeq(ctx, cid);
  return { seq, id: storedMessageId(seq), timestamp: ctx.now };
}

const slotOf = (claim: Item): Slot => ({ seq: claim.seq as number, id: claim.messageId as string, timestamp: claim.timestamp as number });

/** The stored form of a send: the one builder, so that a resend stores exactly what the first attempt would have. */
function messageRecord(req: Request<'send'>, me: string, audience: Audience, slot: Slot): MessageRecord {
  return {
    cid: req.cid,
    seq: slot.seq,
    id: slot.id,
    from: me,
    data: req.data,
    timestamp: slot.timestamp,
    // Rooms have no receipts.
    ...(req.receipt && !audience.room ? { receipt: true } : {}),
    ...mentionFields(req),
    ...typeField(req.data),
  };
}

/** Slots one send tries before giving up with 4200 (each loss means a reader voided it or a resend raced it). */
const MAX_STORE_ATTEMPTS = 5;

/**
 * Writes a send's message into its slot. A slot that a reader voided first (message-store.ts) is
 * given up for a fresh one, and the `clientMsgId` claim moves along, so a resend finds the message
 * where it ended up; the message then never lands below a point some member has passed. Returns
 * the stored message and whether this call wrote it: only the writer fans out, so racing resends
 * deliver it once.
 */
async function storeInSlot(
  ctx: Ctx,
  req: Request<'send'>,
  me: string,
  audience: Audience,
  first: Slot,
  key: string | undefined,
): Promise<{ message: MessageRecord; wrote: boolean }> {
  let slot = first;
  for (let attempt = 0; attempt < MAX_STORE_ATTEMPTS; attempt++) {
    const message = messageRecord(req, me, audience, slot);
    if (await putMessage(ctx, message)) return { message, wrote: true };
    const there = await getSeq(ctx, req.cid, slot.seq);
    // Only a resend of this very message can take a slot of its own claim.
    if (there && !isVoid(there)) return { message: there, wrote: false };
    if (!there) continue;
    const next = await newSlot(ctx, req.cid);
    if (
      key &&
      !(await claimKey(ctx, key, claimOf(req.cid, next), { ttlSeconds: DEDUPE_TTL_SECONDS, replacing: { field: 'seq', value: slot.seq } }))
    ) {
      // A racing resend moved the claim first: follow it (our new seq stays a hole, voided by the next reader that needs to pass it).
      const claim = await getKey(ctx, key);
      if (!claim) throw new Error('dedupe claim vanished');
      slot = slotOf(claim);
      continue;
    }
    slot = next;
  }
  throw new ImError('INTERNAL_ERROR', 'the message could not be stored; resend it with the same clientMsgId');
}

const claimOf = (cid: string, slot: Slot): Item => ({ cid, seq: slot.seq, messageId: slot.id, timestamp: slot.timestamp });

async function storeAndDeliver(
  ctx: Ctx,
  req: Request<'send'>,
  me: string,
  audience: Audience,
  slot: Slot,
  key: string | undefined,
): Promise<SendResult | WithFollowUp> {
  // Durable before ok: the reply is only built after the write succeeded.
  const { message, wrote } = await storeInSlot(ctx, req, me, audience, slot, key);
  const result: SendResult = { messageId: message.id, timestamp: message.timestamp, seq: message.seq };
  if (!wrote) return result;
  return replyAndDeliver(
    ctx,
    req.cid,
    audience,
    { event: 'message', message: messageView(message) },
    result,
    pushFor(message, req.pushData),
  );
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
    // A resend: answer with the first attempt's message, storing it now if that attempt died before.
    const claim = await getKey(ctx, key);
    if (claim) return storeAndDeliver(ctx, req, me, audience, slotOf(claim), key);
  }
  const slot = await newSlot(ctx, req.cid);
  if (key && !(await claimKey(ctx, key, claimOf(req.cid, slot), { ttlSeconds: DEDUPE_TTL_SECONDS }))) {
    // A concurrent resend won the claim; our seq stays a hole (voided by the next reader that needs to pass it).
    const winner = await getKey(ctx, key);
    if (!winner) throw new Error('dedupe claim vanished');
    return storeAndDeliver(ctx, req, me, audience, slotOf(winner), key);
  }
  return storeAndDeliver(ctx, req, me, audience, slot, key);
}

/** Receipts are remembered this long, so a re-ack never sends a second `delivered`. */
export const RECEIPT_TTL_SECONDS = 30 * 24 * 3600;

/**
 * `ack`: records that these messages reached the client (ids are checked against storage, so
 * forged ids record nothing), moves its delivered point as far as that allows
 * (delivered-point.ts), and sends each `receipt: true` message's sender one `delivered` event per
 * recipient.
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
  const member = await addAcks(
    ctx,
    req.cid,
    me,
    found.map((m) => m.seq),
  );
  // Not a member (any more): nothing to record, no receipts.
  if (!member) return {};
  await moveDelivered(ctx, member);
  const receipts = found.filter((m) => m.receipt && m.from !== me);
  await mapLimit(receipts, 8, async (m) => {
    if (!(await claimKey(ctx, `rcpt#${req.cid}#${m.seq}#${me}`, {}, { ttlSeconds: RECEIPT_TTL_SECONDS }))) return;
    await sendToClients(ctx, [m.from], { event: 'delivered', cid: req.cid, messageId: m.id, deliveredAt: ctx.now, by: me });
  });
  return {};
}

/** Rounds of read-and-conditional-write before an ack leaves moving the point to its racers. */
const MAX_POINT_ATTEMPTS = 5;

/**
 * Moves the member's delivered point over its recorded acks and whatever it may pass between
 * them: the gaps are looked up in order, holes voided, and the walk stops at the first message
 * from someone else that is not acked. The acks are already recorded, so an ack that loses every
 * round to concurrent ones leaves them to the next mover (and offline delivery skips them).
 */
async function moveDelivered(ctx: Ctx, first: MemberRecord): Promise<void> {
  const me = first.clientId;
  let member: MemberRecord | undefined = first;
  for (let attempt = 0; member && attempt < MAX_POINT_ATTEMPTS; attempt++) {
    const point = member.deliveredSeq;
    const acked = new Set(member.ackedAhead ?? []);
    const gaps = gapsToExamine(point, new Set([...acked].filter((s) => s > point)), ACK_GAP_LOOKUP_MAX);
    const passable = new Set<number>();
    if (gaps.length > 0) {
      const occupied = await readSeqs(ctx, member.cid, gaps);
      for (const seq of gaps) {
        const at = occupied.get(seq) ?? (await settleHole(ctx, member.cid, seq));
        if (at.from !== undefined && at.from !== me) break;
        passable.add(seq);
      }
    }
    const next = advanceDeliveredPoint(point, acked, passable);
    if (await moveDeliveredPoint(ctx, member.cid, me, point, next.point, next.forget)) return;
    member = await getMember(ctx, member.cid, me);
  }
}

/** Read receipts go to the other member of one-to-one conversations only (groups: `receipts.ts`). */
export const READ_RECEIPT_MAX_MEMBERS = 2;

/**
 * `read`: moves the read point to `messageId` (default: the newest message); the client's other
 * connections get the conversation's new unread count, and in a one-to-one conversation the
 * other member gets a `read` receipt when the point moved.
 */

/** Seqs one `read` settles; a point further away moves that far, and the next `read` goes on. */
const MAX_READ_SETTLE = 5000;

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
  // The point passes only settled seqs: a message stored late below it would never count as unread.
  const wanted = at?.seq ?? conv.lastSeq;
  const seq = wanted > member.readSeq ? await settleRange(ctx, req.cid, member.readSeq, wanted, MAX_READ_SETTLE) : wanted;
  const advanced = await advanceReadPoint(ctx, req.cid, me, seq);
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
    const items = ((res.Items ?? []) as { id?: string; timestamp?: number }[]).filter(
      (m): m is { id: string; timestamp: number } => m.id !== undefined && m.timestamp !== undefined,
    );
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
  const filters: string[] = ['attribute_not_exists(#void)'];
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
        FilterExpression: filters.join(' AND '),
        ExpressionAttributeNames: { '#void': 'void', ...(filters.some((f) => f.includes('#ts')) ? { '#ts': 'timestamp' } : {}) },
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
  memberships: Pick<MemberRecord, 'cid' | 'deliveredSeq' | 'ackedAhead'>[],
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
    const acked = new Set(m.ackedAhead ?? []);
    for (const item of (res.Items ?? []) as unknown as SeqRecord[]) {
      if (isVoid(item) || item.from === target.clientId || acked.has(item.seq)) continue;
      const outcome = await postEvent(ctx, target, { event: 'message', message: messageView(item, { offline: true }) });
      if (outcome === 'gone') return;
    }
  }
}
