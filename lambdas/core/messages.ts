/** Sending, acknowledging and reading messages (PROTOCOL.md §7, §8, `query`). */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, type Item } from '../adapters/dynamo';
import { getConversation, getMember, memberIds } from './conversation-store';
import { sendToClients } from './delivery';
import { ImError, isConditionFailed } from './errors';
import { seqOfMessageId, storedMessageId, transientMessageId } from './ids';
import { claimKey, getKey } from './key-store';
import type { Ctx } from './route';
import type { Request } from './schemas';
import type { Session } from './session-store';

/** `clientMsgId` de-duplication window. */
export const DEDUPE_TTL_SECONDS = 24 * 3600;

export interface MessageRecord {
  cid: string;
  seq: number;
  id: string;
  from: string;
  data: string;
  timestamp: number;
  receipt?: boolean;
}

export interface MessageView {
  id: string;
  cid: string;
  from: string;
  data: string;
  timestamp: number;
  seq?: number;
  transient?: true;
  receipt?: true;
  offline?: true;
}

export function messageView(m: MessageRecord, extra: { offline?: boolean } = {}): MessageView {
  return {
    id: m.id,
    cid: m.cid,
    from: m.from,
    data: m.data,
    timestamp: m.timestamp,
    seq: m.seq,
    ...(m.receipt ? { receipt: true as const } : {}),
    ...(extra.offline ? { offline: true as const } : {}),
  };
}

export interface SendResult {
  messageId: string;
  timestamp: number;
  seq?: number;
}

function checkSize(ctx: Ctx, data: string): void {
  const bytes = Buffer.byteLength(data, 'utf8');
  const max = ctx.deps.config.maxMessageBytes;
  if (bytes > max) throw new ImError('FRAME_TOO_LONG', `data is ${bytes} bytes in UTF-8; the limit is ${max}`);
}

/** Members of `cid` if `me` is one of them, else 4401 (missing conversations included). */
async function recipientsFor(ctx: Ctx, cid: string, me: string): Promise<string[]> {
  const members = await memberIds(ctx, cid);
  if (!members.includes(me)) throw new ImError('INVALID_MESSAGING_TARGET', 'not a member of this conversation');
  return members;
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
  try {
    await db.send(
      new PutCommand({ TableName: config.tables.messages, Item: m, ConditionExpression: 'attribute_not_exists(seq)' }),
    );
    return true;
  } catch (err) {
    if (isConditionFailed(err)) return false;
    throw err;
  }
}

async function getMessage(ctx: Ctx, cid: string, seq: number): Promise<MessageRecord | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.messages, Key: { cid, seq }, ConsistentRead: true }));
  return res.Item as MessageRecord | undefined;
}

function dedupeKey(cid: string, from: string, clientMsgId: string): string {
  return `msg#${cid}#${from}#${clientMsgId}`;
}

/**
 * A resent `clientMsgId`: answer with the first result. If the first attempt died after its
 * claim but before its message was stored, store it now under the claimed id and seq.
 */
async function replayDuplicate(ctx: Ctx, claim: Item, req: Request<'send'>, me: string, members: string[]): Promise<SendResult> {
  const first: MessageRecord = {
    cid: req.cid,
    seq: claim.seq as number,
    id: claim.messageId as string,
    from: me,
    data: req.data,
    timestamp: claim.timestamp as number,
    ...(req.receipt ? { receipt: true } : {}),
  };
  if (!(await getMessage(ctx, req.cid, first.seq)) && (await putMessage(ctx, first))) {
    await sendToClients(ctx, members, { event: 'message', message: messageView(first) }, { except: ctx.connectionId });
  }
  return { messageId: first.id, timestamp: first.timestamp, seq: first.seq };
}

export async function sendMessage(ctx: Ctx, req: Request<'send'>, session: Session): Promise<SendResult> {
  const me = session.clientId;
  checkSize(ctx, req.data);
  const members = await recipientsFor(ctx, req.cid, me);

  if (req.transient) {
    const message: MessageView = { id: transientMessageId(), cid: req.cid, from: me, data: req.data, timestamp: ctx.now, transient: true };
    await sendToClients(ctx, members, { event: 'message', message }, { except: ctx.connectionId });
    return { messageId: message.id, timestamp: message.timestamp };
  }

  const key = req.clientMsgId ? dedupeKey(req.cid, me, req.clientMsgId) : undefined;
  if (key) {
    const claim = await getKey(ctx, key);
    if (claim) return replayDuplicate(ctx, claim, req, me, members);
  }

  const seq = await nextSeq(ctx, req.cid);
  const message: MessageRecord = {
    cid: req.cid,
    seq,
    id: storedMessageId(seq),
    from: me,
    data: req.data,
    timestamp: ctx.now,
    ...(req.receipt ? { receipt: true } : {}),
  };
  if (key) {
    const claimed = await claimKey(ctx, key, { cid: req.cid, seq, messageId: message.id, timestamp: message.timestamp }, { ttlSeconds: DEDUPE_TTL_SECONDS });
    if (!claimed) {
      // A concurrent resend won the claim; our seq stays unused (a gap `query` cannot fill).
      const winner = await getKey(ctx, key);
      if (winner) return replayDuplicate(ctx, winner, req, me, members);
      throw new Error('dedupe claim vanished');
    }
  }
  // Durable before ok: the reply is only built after this write succeeded.
  if (await putMessage(ctx, message)) {
    await sendToClients(ctx, members, { event: 'message', message: messageView(message) }, { except: ctx.connectionId });
  }
  return { messageId: message.id, timestamp: message.timestamp, seq };
}

/**
 * `ack`: moves the member's delivered point to the highest acked message that really exists
 * in this conversation (ids are checked against storage, so forged ids cannot skip messages).
 */
export async function ackMessages(ctx: Ctx, req: Request<'ack'>, session: Session): Promise<object> {
  const { db, config } = ctx.deps;
  const seqs = [...new Set(req.messageIds.map(seqOfMessageId).filter((s): s is number => s !== undefined))];
  if (seqs.length === 0) return {};
  const found = await batchGetAll(db, config.tables.messages, seqs.map((seq) => ({ cid: req.cid, seq })), {
    projection: 'seq, id',
  });
  const wanted = new Set(req.messageIds);
  const top = Math.max(0, ...found.filter((m) => wanted.has(m.id as string)).map((m) => m.seq as number));
  if (top === 0) return {};
  await db.send(
    new UpdateCommand({
      TableName: config.tables.members,
      Key: { cid: req.cid, clientId: session.clientId },
      UpdateExpression: 'SET deliveredSeq = :s',
      ConditionExpression: 'attribute_exists(clientId) AND deliveredSeq < :s',
      ExpressionAttributeValues: { ':s': top },
    }),
  ).catch((err: unknown) => {
    // Not a member, or the point is already past this message: nothing to record.
    if (!isConditionFailed(err)) throw err;
  });
  return {};
}

/** Reads bounded by this many items per `query` when filtering by timestamp alone. */
const MAX_QUERY_READ = 5000;

export async function queryHistory(ctx: Ctx, req: Request<'query'>, session: Session): Promise<{ messages: MessageView[]; hasMore: boolean }> {
  const { db, config } = ctx.deps;
  if (!(await getMember(ctx, req.cid, session.clientId))) {
    if (!(await getConversation(ctx, req.cid))) throw new ImError('CONVERSATION_NOT_FOUND', 'conversation not found');
    throw new ImError('CONVERSATION_LOG_REJECTED', 'only members can read the history of this conversation');
  }
  const beforeSeq = req.before?.messageId !== undefined ? seqOfMessageId(req.before.messageId) : undefined;
  if (req.before?.messageId !== undefined && beforeSeq === undefined) {
    throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'before.messageId is not a message id of this server');
  }
  const beforeTs = beforeSeq === undefined ? req.before?.timestamp : undefined;
  const page: Item[] = [];
  let start: Item | undefined;
  let read = 0;
  // One item more than asked tells whether an older page exists.
  do {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.messages,
        KeyConditionExpression: beforeSeq !== undefined ? 'cid = :cid AND seq < :s' : 'cid = :cid',
        ...(beforeTs !== undefined ? { FilterExpression: '#ts < :t' , ExpressionAttributeNames: { '#ts': 'timestamp' } } : {}),
        ExpressionAttributeValues: {
          ':cid': req.cid,
          ...(beforeSeq !== undefined ? { ':s': beforeSeq } : {}),
          ...(beforeTs !== undefined ? { ':t': beforeTs } : {}),
        },
        ScanIndexForward: false,
        Limit: req.limit + 1 - page.length,
        ExclusiveStartKey: start,
      }),
    );
    page.push(...((res.Items ?? []) as Item[]));
    read += res.ScannedCount ?? 0;
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start && page.length < req.limit + 1 && read < MAX_QUERY_READ);
  const hasMore = page.length > req.limit || (start !== undefined && page.length <= req.limit);
  const messages = page.slice(0, req.limit).reverse().map((m) => messageView(m as unknown as MessageRecord));
  return { messages, hasMore };
}

/** Offline delivery caps (PROTOCOL.md §5). */
export const OFFLINE_MAX_PER_CONVERSATION = 100;
export const OFFLINE_MAX_CONVERSATIONS = 50;

/**
 * After `open` in default mode: every stored message from others after the client's delivered
 * point, oldest first per conversation, to this connection only.
 */
export async function deliverOffline(ctx: Ctx, clientId: string, memberships: { cid: string; deliveredSeq: number }[]): Promise<void> {
  const { db, config } = ctx.deps;
  if (memberships.length === 0) return;
  const convs = await batchGetAll(db, config.tables.conversations, memberships.map((m) => ({ cid: m.cid })), {
    projection: 'cid, lastSeq, lastMessageAt',
  });
  const byCid = new Map(convs.map((c) => [c.cid as string, c]));
  const pending = memberships
    .filter((m) => ((byCid.get(m.cid)?.lastSeq as number | undefined) ?? 0) > m.deliveredSeq)
    .sort((a, b) => ((byCid.get(b.cid)!.lastMessageAt as number) ?? 0) - ((byCid.get(a.cid)!.lastMessageAt as number) ?? 0))
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
      if (item.from === clientId) continue;
      const outcome = await ctx.gateway.post(ctx.connectionId, JSON.stringify({ event: 'message', message: messageView(item, { offline: true }) }));
      if (outcome === 'gone') return;
    }
  }
}
