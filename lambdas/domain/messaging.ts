/**
 * Sending messages (docs/protocol.md §7): size check, `clientMsgId` de-duplication, the slot (seq, id,
 * timestamp) a stored message takes, and writing it there even when a reader voided the seq
 * first; then the fan-out (fan-out.ts). Transient messages are only fanned out.
 */
import type { Item } from '../stores/dynamo';
import { allocateSeq } from '../stores/conversations';
import { audienceFor, replyAndDeliver, type Audience } from './fan-out';
import { ImError } from '../protocol/errors';
import { randomToken, storedMessageId, transientMessageId } from './ids';
import { claimKey, getKey } from '../stores/keys';
import { getSeq, isVoid, putMessage, type MessageRecord } from '../stores/messages';
import type { Ctx, WithFollowUp } from './context';
import type { Request } from '../protocol/schemas';
import { messageView } from './message-model';
import { type MessageView } from '../protocol/views';
import type { PushJob } from './push';
import type { Session } from './session';

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

function pushFor(message: MessageRecord, pushData: Record<string, unknown> | undefined): Omit<PushJob, 'recipients'> {
  return { cid: message.cid, messageId: message.id, from: message.from, ...(pushData ? { pushData } : {}) };
}

async function nextSeq(ctx: Ctx, cid: string): Promise<number> {
  const seq = await allocateSeq(ctx, cid);
  if (seq === undefined) throw new ImError('INVALID_MESSAGING_TARGET', 'conversation not found');
  return seq;
}

/**
 * The `_lctype` of a typed message (docs/protocol.md §3), stored beside it so that history can be
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
export interface Slot {
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
export function messageRecord(req: Request<'send'>, me: string, audience: Audience, slot: Slot): MessageRecord {
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
 * Writes a send's message into its slot. A slot that a reader voided first (stores/messages.ts) is
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
  // Marks what this call writes: when the SDK retries a put whose first attempt did land, the
  // retry fails its condition on our own item, and this call is still the writer (it fans out).
  const writer = randomToken(12);
  for (let attempt = 0; attempt < MAX_STORE_ATTEMPTS; attempt++) {
    const message: MessageRecord = { ...messageRecord(req, me, audience, slot), writer };
    if (await putMessage(ctx, message)) return { message, wrote: true };
    const there = await getSeq(ctx, req.cid, slot.seq);
    // Only a resend of this very message can take a slot of its own claim.
    if (there && !isVoid(there)) return { message: there, wrote: there.writer === writer };
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
