/**
 * What a client missed while away: after `open` in default mode, the stored messages after its
 * delivered point (offline delivery); in unread mode, unread counts. Unread counts are derived
 * from the conversation's sequence numbers and the member's read point: no write per member per
 * message. Own messages are not unread, so counting reads the messages after the read point
 * (newest first, bounded).
 */
import { mapLimit } from './concurrency';
import { conversationProgress, type ConversationProgress } from '../stores/conversations';
import { moveDeliveredPoint, type MemberRecord } from '../stores/members';
import { postEvent, type Target } from './fan-out';
import { mentions, messageView } from './message-model';
import type { MessageView, UnreadEntry } from '../protocol/views';
import { isVoid, seqsAfter, settleHole, type MessageRecord, type SeqRecord } from '../stores/messages';
import { blocksPoint } from './delivered-point';
import type { Ctx } from './context';

/** Offline delivery caps (docs/protocol.md §5). */
export const OFFLINE_MAX_PER_CONVERSATION = 100;
export const OFFLINE_MAX_CONVERSATIONS = 50;

/** Largest `messages` frame offline delivery builds: API Gateway's client frame size, well under its 128 KB post limit. */
export const OFFLINE_BATCH_MAX_BYTES = 32 * 1024;

/** Batch frames posted at once; within the account-wide @connections budget. */
const BATCH_POST_CONCURRENCY = 8;

/**
 * After `open` in default mode: every stored message from others after the client's delivered
 * point, oldest first per conversation, to this connection only. One `message` frame each, in
 * order; with `batch` (the `offlineBatch` extension), the conversations are read concurrently and
 * the messages go out packed into `messages` frames of at most OFFLINE_BATCH_MAX_BYTES, posted
 * concurrently (so frames may arrive in any order; `seq` orders them).
 */
export async function deliverOffline(
  ctx: Ctx,
  target: Target,
  memberships: Pick<MemberRecord, 'cid' | 'deliveredSeq' | 'ackedAhead'>[],
  known?: Map<string, ConversationProgress>,
  opts: { batch?: boolean } = {},
): Promise<void> {
  if (memberships.length === 0) return;
  const progress =
    known ??
    (await conversationProgress(
      ctx,
      memberships.map((m) => m.cid),
    ));
  const pending = offlineConversations(memberships, progress);
  const owed = async (m: (typeof pending)[number]) =>
    (await owedIn(ctx, target.clientId, m)).map((message) => messageView(message, { offline: true }));
  if (opts.batch) {
    const messages = (await mapLimit(pending, 8, owed)).flat();
    let gone = false;
    await mapLimit(packOfflineBatches(messages), BATCH_POST_CONCURRENCY, async (batch) => {
      if (!gone && (await postEvent(ctx, target, { event: 'messages', messages: batch })) === 'gone') gone = true;
    });
    return;
  }
  for (const m of pending) {
    for (const message of await owed(m)) {
      const outcome = await postEvent(ctx, target, { event: 'message', message });
      if (outcome === 'gone') return;
    }
  }
}

/** Pages one login reads past seqs the member is not waiting for, per conversation. */
const OFFLINE_MAX_PAGES = 5;

/** Holes one login settles per conversation while moving the point (more wait for the next). */
const OFFLINE_MAX_SETTLES = 10;

/**
 * The messages a member is owed in one conversation, at most a page. The seqs right after its
 * delivered point that it is not waiting for — its own messages (it never receives them, so never
 * acks them), void seqs, seqs it acked ahead, and holes, settled — move the point first: without
 * that, a member whose last 100 seqs are its own would be owed nothing at every login while a
 * later message from someone else waited behind them for ever.
 */
async function owedIn(ctx: Ctx, clientId: string, m: Pick<MemberRecord, 'cid' | 'deliveredSeq' | 'ackedAhead'>): Promise<MessageRecord[]> {
  const acked = new Set(m.ackedAhead ?? []);
  let point = m.deliveredSeq;
  let settles = 0;
  for (let page = 0; page < OFFLINE_MAX_PAGES; page++) {
    const items = await seqsAfter(ctx, m.cid, point, { from: 'oldest', limit: OFFLINE_MAX_PER_CONVERSATION });
    const owed = offlineMessages(items, clientId, acked);
    let run = leadingRun(point, items, clientId, acked);
    // A hole in the run: settled (voided, or the message that just filled it), then walked on.
    while (run.hole !== undefined && settles++ < OFFLINE_MAX_SETTLES) {
      const at = await settleHole(ctx, m.cid, run.hole);
      if (blocksPoint(at, clientId, acked)) break;
      run = leadingRun(run.hole, items, clientId, acked);
    }
    if (run.end > point) {
      const forget = [...acked].filter((s) => s <= run.end);
      // A concurrent ack moved it first: what it passed is then passed, and this page still stands.
      if (!(await moveDeliveredPoint(ctx, m.cid, clientId, point, run.end, forget))) return owed;
      point = run.end;
    }
    if (owed.length > 0 || items.length < OFFLINE_MAX_PER_CONVERSATION) return owed;
  }
  return [];
}

/**
 * How far the delivered point may move over `items` (the seqs after `point`, in order): over
 * consecutive seqs that are void, the member's own or acked ahead. Stops at a message it is owed,
 * or at a hole (returned, for the caller to settle), or after the last item.
 */
export function leadingRun(
  point: number,
  items: readonly SeqRecord[],
  clientId: string,
  acked: ReadonlySet<number>,
): { end: number; hole?: number } {
  const bySeq = new Map(items.map((i) => [i.seq, i]));
  const last = items.length > 0 ? items[items.length - 1]!.seq : point;
  let end = point;
  while (end < last) {
    const item = bySeq.get(end + 1);
    if (!item) return { end, hole: end + 1 };
    if (blocksPoint(item, clientId, acked)) break;
    end++;
  }
  return { end };
}

/**
 * Packs messages, in order, into as few `messages` frames as fit OFFLINE_BATCH_MAX_BYTES each
 * (UTF-8, the whole frame). A message too large for a frame of its own limit travels alone.
 */
export function packOfflineBatches(messages: readonly MessageView[], maxBytes = OFFLINE_BATCH_MAX_BYTES): MessageView[][] {
  // The frame around the list: {"event":"messages","messages":[ … ]}
  const envelope = Buffer.byteLength(JSON.stringify({ event: 'messages', messages: [] }), 'utf8');
  const batches: MessageView[][] = [];
  let current: MessageView[] = [];
  let size = envelope;
  for (const m of messages) {
    const bytes = Buffer.byteLength(JSON.stringify(m), 'utf8');
    // Each message after the first in a frame adds a comma.
    if (current.length > 0 && size + 1 + bytes > maxBytes) {
      batches.push(current);
      current = [];
      size = envelope;
    }
    size += (current.length > 0 ? 1 : 0) + bytes;
    current.push(m);
  }
  if (current.length > 0) batches.push(current);
  return batches;
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
  // What would stop the point is exactly what the member is owed (void seqs have no sender).
  return items.filter((item): item is MessageRecord => blocksPoint(item, clientId, acked));
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
