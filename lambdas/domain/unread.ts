/**
 * Unread counts, derived from the conversation's sequence numbers and the member's read
 * point: no write per member per message. Own messages are not unread, so counting reads the
 * messages after the read point (newest first, bounded).
 */
import { mapLimit } from './concurrency';
import { conversationProgress, type ConversationProgress, type MemberRecord } from '../stores/conversations';
import { mentions, messageView } from './message-model';
import type { UnreadEntry } from '../protocol/views';
import { isVoid, seqsAfter, type MessageRecord } from '../stores/messages';
import type { Ctx } from './context';

/** Counts above this are reported as this number (clients show "99+" long before). */
export const UNREAD_COUNT_CAP = 1000;

/**
 * Unread count and last message of each given conversation (all of them, zero counts included).
 * `progress` is read here unless the caller already has it.
 */
export async function unreadCounts(
  ctx: Ctx,
  clientId: string,
  memberships: Pick<MemberRecord, 'cid' | 'readSeq'>[],
  known?: Map<string, ConversationProgress>,
): Promise<UnreadEntry[]> {
  if (memberships.length === 0) return [];
  const progress =
    known ??
    (await conversationProgress(
      ctx,
      memberships.map((m) => m.cid),
    ));
  return mapLimit(memberships, 8, async (m): Promise<UnreadEntry> => {
    if ((progress.get(m.cid)?.lastSeq ?? 0) <= m.readSeq) return { cid: m.cid, unread: 0, lastMessage: null };
    const items = (await seqsAfter(ctx, m.cid, m.readSeq, { from: 'newest', limit: UNREAD_COUNT_CAP })).filter(
      (i): i is MessageRecord => !isVoid(i),
    );
    return {
      cid: m.cid,
      unread: items.filter((i) => i.from !== clientId).length,
      lastMessage: items[0] ? messageView(items[0]) : null,
      ...(items.some((i) => mentions(i, clientId)) ? { mentioned: true as const } : {}),
    };
  });
}

/** The `unread` event's list at login: conversations with unread messages only. */
export async function unreadSummary(
  ctx: Ctx,
  clientId: string,
  memberships: Pick<MemberRecord, 'cid' | 'readSeq'>[],
  progress?: Map<string, ConversationProgress>,
): Promise<UnreadEntry[]> {
  return (await unreadCounts(ctx, clientId, memberships, progress)).filter((e) => e.unread > 0);
}
