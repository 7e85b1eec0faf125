/**
 * History (docs/protocol.md §4, `query`; LeanCloud `logs`): pages of a conversation's stored messages
 * between two bounds, and the ids in a time range (LeanCloud acks by time).
 */
import { getConversation } from '../stores/conversations';
import { getMember } from '../stores/members';
import { ImError } from '../protocol/errors';
import { seqOfMessageId } from './ids';
import { historyPage, idsInTimeRange, type HistoryPlan, type TimeBound } from '../stores/messages';
import type { Ctx } from './context';
import { messageView } from './message-model';
import { type MessageView } from '../protocol/views';
import type { Session } from './session';

/**
 * Ids of the stored messages of `cid` with timestamps in [from, to], newest first, at most `max`
 * (LeanCloud clients acknowledge by time range). Reads at most 1,000 items.
 */
export async function messageIdsBetween(ctx: Ctx, cid: string, from: number, to: number, max = 100): Promise<string[]> {
  return idsInTimeRange(ctx, cid, from, to, max);
}

/** Reads bounded by this many items per `query` when filtering (by timestamp alone, or by type). */
export const MAX_QUERY_READ = 5000;

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
export interface HistoryPage {
  messages: MessageView[];
  hasMore: boolean;
}

export async function queryHistory(ctx: Ctx, req: HistoryRange, session: Session): Promise<HistoryPage> {
  // Room history is for the connections in the room; conversation history for members.
  if (session.room !== req.cid && !(await getMember(ctx, req.cid, session.clientId))) {
    if (!(await getConversation(ctx, req.cid))) throw new ImError('CONVERSATION_NOT_FOUND', 'conversation not found');
    throw new ImError('CONVERSATION_LOG_REJECTED', 'only members (for chat rooms: those in the room) can read its history');
  }
  const plan = historyPlan(req);
  if (plan === 'empty') return { messages: [], hasMore: false };
  const { messages, hasMore } = await historyPage(ctx, plan);
  return { messages: messages.map((m) => messageView(m)), hasMore };
}

/**
 * How the table reads a history range. Message ids give exact sequence bounds (the key
 * condition; an exclusive end moves one seq inwards); an end given by a timestamp alone filters
 * (seq order follows time, but timestamps are no key). 'empty' when the seq bounds cross, so
 * nothing need be read; UNPARSEABLE_RAW_MESSAGE for an id this server did not make.
 */
export function historyPlan(req: HistoryRange): HistoryPlan | 'empty' {
  const seqOf = (b: HistoryBound | undefined, which: 'before' | 'after') => {
    if (b?.messageId === undefined) return undefined;
    const seq = seqOfMessageId(b.messageId);
    if (seq === undefined) throw new ImError('UNPARSEABLE_RAW_MESSAGE', `${which}.messageId is not a message id of this server`);
    return b.inclusive ? seq : which === 'before' ? seq - 1 : seq + 1;
  };
  const hi = seqOf(req.before, 'before');
  const lo = seqOf(req.after, 'after');
  if (lo !== undefined && hi !== undefined && lo > hi) return 'empty';
  const timeBound = (b: HistoryBound | undefined): TimeBound | undefined =>
    b?.timestamp !== undefined ? { timestamp: b.timestamp, inclusive: b.inclusive === true } : undefined;
  // An end given by message id is exact; its timestamp, if any, adds nothing.
  const before = hi === undefined ? timeBound(req.before) : undefined;
  const after = lo === undefined ? timeBound(req.after) : undefined;
  return {
    cid: req.cid,
    keys: { ...(lo !== undefined ? { lo } : {}), ...(hi !== undefined ? { hi } : {}) },
    filters: { ...(before ? { before } : {}), ...(after ? { after } : {}), ...(req.type !== undefined ? { lctype: req.type } : {}) },
    from: req.from ?? 'newest',
    limit: req.limit,
    maxRead: MAX_QUERY_READ,
  };
}
