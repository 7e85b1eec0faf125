/**
 * Receipt points: how far each member of a conversation has received (acked) and read it,
 * as the timestamps of the messages at those points. LeanCloud clients fetch them with
 * `conv/max_read` (`fetchReceiptTimestamps()`), e.g. after reconnecting.
 */
import { memberRecords, requireConversation } from '../stores/conversations';
import { ImError } from '../protocol/errors';
import { getMessagesAt } from '../stores/messages';
import type { Ctx } from './context';
import type { Session } from './session';

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
