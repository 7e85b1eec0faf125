/**
 * What a client missed while away: after `open` in default mode, the stored messages after its
 * delivered point (offline delivery); in unread mode, unread counts. Unread counts are derived
 * from the conversation's sequence numbers and the member's read point: no write per member per
 * message. Own messages are not unread, so counting reads the messages after the read point
 * (newest first, bounded).
 */
import { mapLimit } from './concurrency';
import { conversationProgress, type ConversationProgress } from '../stores/conversations';
import { type MemberRecord } from '../stores/members';
import { postEvent, type Target } from './fan-out';
import { mentions, messageView } from './message-model';
import type { UnreadEntry } from '../protocol/views';
import { isVoid, seqsAfter, type MessageRecord, type SeqRecord } from '../stores/messages';
import type { Ctx } from './context';

/** Offline delivery caps (docs/protocol.md §5). */
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
  if (memberships.length === 0) return;
  const progress =
    known ??
    (await conversationProgress(
      ctx,
      memberships.map((m) => m.cid),
    ));
  for (const m of offlineConversations(memberships, progress)) {
    const items = await seqsAfter(ctx, m.cid, m.deliveredSeq, { from: 'oldest', limit: OFFLINE_MAX_PER_CONVERSATION });
    for (const message of offlineMessages(items, target.clientId, m.ackedAhead)) {
      const outcome = await postEvent(ctx, target, { event: 'message', message: messageView(message, { offline: true }) });
      if (outcome === 'gone') return;
    }
  }
}

/**
 * The conversations offline delivery reads: those with messages past the member's delivered
 * point, most recently active first, at most OFFLINE_MAX_CONVERSATIONS (the cap keeps the
 * conversations the client most likely opens).
 */
export function offlineConversations<M extends Pick<MemberRecord, 'cid' | 'deliveredSeq'>>(
  memberships: readonly M[],
  progress: ReadonlyMap<string, Pick<ConversationProgress, 'lastSeq' | 'lastMessageAt'>>,
): M[] {
  const activity = (cid: string) => progress.get(cid)?.lastMessageAt ?? 0;
  return memberships
    .filter((m) => (progress.get(m.cid)?.lastSeq ?? 0) > m.deliveredSeq)
    .sort((a, b) => activity(b.cid) - activity(a.cid))
    .slice(0, OFFLINE_MAX_CONVERSATIONS);
}

/**
 * Of what follows a delivered point, what the client still needs: not void seqs, not its own
 * messages (it sent them), not those it acked beyond the point (received already; the point just
 * could not pass an earlier gap yet).
 */
export function offlineMessages(items: readonly SeqRecord[], clientId: string, ackedAhead: Iterable<number> | undefined): MessageRecord[] {
  const acked = new Set(ackedAhead ?? []);
  return items.filter((item): item is MessageRecord => !isVoid(item) && item.from !== clientId && !acked.has(item.seq));
}

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
    return unreadEntry(m.cid, await seqsAfter(ctx, m.cid, m.readSeq, { from: 'newest', limit: UNREAD_COUNT_CAP }), clientId);
  });
}

/**
 * One conversation's unread entry from what follows the read point, newest first: messages from
 * others count (own ones were read when sent), `lastMessage` is the newest whoever sent it, and
 * a mention of the client among them is flagged.
 */
export function unreadEntry(cid: string, newestFirst: readonly SeqRecord[], clientId: string): UnreadEntry {
  const items = newestFirst.filter((i): i is MessageRecord => !isVoid(i));
  return {
    cid,
    unread: items.filter((i) => i.from !== clientId).length,
    lastMessage: items[0] ? messageView(items[0]) : null,
    ...(items.some((i) => mentions(i, clientId)) ? { mentioned: true as const } : {}),
  };
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
