/**
 * Receipts (docs/protocol.md §8): `ack` records what reached a client and moves its delivered point
 * (delivered-point.ts), sending `delivered` to senders who asked; `read` moves the read point,
 * sending `read` in one-to-one conversations. Receipt points: how far each member of a
 * conversation has received (acked) and read it, as the timestamps of the messages at those
 * points. LeanCloud clients fetch them with `conv/max_read` (`fetchReceiptTimestamps()`), e.g.
 * after reconnecting.
 */
import { mapLimit } from './concurrency';
import { getConversation, requireConversation } from '../stores/conversations';
import {
  addAcks,
  advanceReadPoint,
  getMember,
  memberRecords,
  memberStates,
  moveDeliveredPoint,
  type MemberRecord,
} from '../stores/members';
import { ACK_GAP_LOOKUP_MAX, advanceDeliveredPoint, blocksPoint, gapsToExamine } from './delivered-point';
import { sendToClients } from './fan-out';
import { ImError } from '../protocol/errors';
import { seqOfMessageId } from './ids';
import { claimKey } from '../stores/keys';
import { getMessage, getMessagesAt, messageHeadsAt, readSeqs, settleHole, settleRange, type MessageRecord } from '../stores/messages';
import type { Ctx } from './context';
import type { Request } from '../protocol/schemas';
import type { Session } from './session';
import { unreadCounts } from './offline';

/** `ack` and `read` answer a bare `ok`. */
export type AckResult = Record<string, never>;
export type ReadResult = Record<string, never>;

export interface ReceiptPoint {
  clientId: string;
  /** Timestamp of the newest message the member acknowledged; null before any. */
  deliveredAt: number | null;
  /** Timestamp of the newest message the member read; null before any. */
  readAt: number | null;
}

/** The points of every member but the caller, who must be a member (4320). */
export async function receiptPoints(ctx: Ctx, cid: string, session: Session): Promise<ReceiptPoint[]> {
  const members = await memberRecords(ctx, cid);
  if (!members.some((m) => m.clientId === session.clientId)) {
    await requireConversation(ctx, cid);
    throw new ImError('OPERATION_UNAUTHORIZED', 'only members can see receipts');
  }
  const others = members.filter((m) => m.clientId !== session.clientId);
  // A point at or before the member's join is not a receipt of anything.
  const seqs = (m: (typeof members)[number]) => ({
    delivered: m.deliveredSeq > m.joinedSeq ? m.deliveredSeq : 0,
    read: m.readSeq > m.joinedSeq ? m.readSeq : 0,
  });
  const messages = await getMessagesAt(
    ctx,
    others.flatMap((m) => [
      { cid, seq: seqs(m).delivered },
      { cid, seq: seqs(m).read },
    ]),
  );
  const at = (seq: number) => (seq > 0 ? (messages.get(`${cid}#${seq}`)?.timestamp ?? null) : null);
  return others.map((m) => ({ clientId: m.clientId, deliveredAt: at(seqs(m).delivered), readAt: at(seqs(m).read) }));
}

/** Receipts are remembered this long, so a re-ack never sends a second `delivered`. */
export const RECEIPT_TTL_SECONDS = 30 * 24 * 3600;

/**
 * `ack`: records that these messages reached the client (ids are checked against storage, so
 * forged ids record nothing), moves its delivered point as far as that allows
 * (delivered-point.ts), and sends each `receipt: true` message's sender one `delivered` event per
 * recipient.
 */
export async function ackMessages(ctx: Ctx, req: Request<'ack'>, session: Session): Promise<AckResult> {
  const me = session.clientId;
  const seqs = [...new Set(req.messageIds.map(seqOfMessageId).filter((s): s is number => s !== undefined))];
  if (seqs.length === 0) return {};
  const wanted = new Set(req.messageIds);
  const found = (await messageHeadsAt(ctx, req.cid, seqs)).filter((m) => wanted.has(m.id));
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
        if (blocksPoint(at, me)) break;
        passable.add(seq);
      }
    }
    const next = advanceDeliveredPoint(point, acked, passable);
    if (await moveDeliveredPoint(ctx, member.cid, me, point, next.point, next.forget)) return;
    member = await getMember(ctx, member.cid, me);
  }
}

/** Read receipts go to the other member of one-to-one conversations only (groups: `receiptPoints`). */
export const READ_RECEIPT_MAX_MEMBERS = 2;

/** Seqs one `read` settles; a point further away moves that far, and the next `read` goes on. */
const MAX_READ_SETTLE = 5000;

/**
 * `read`: moves the read point to `messageId` (default: the newest message); the client's other
 * connections get the conversation's new unread count, and in a one-to-one conversation the
 * other member gets a `read` receipt when the point moved.
 */
export async function readMessages(ctx: Ctx, req: Request<'read'>, session: Session): Promise<ReadResult> {
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
