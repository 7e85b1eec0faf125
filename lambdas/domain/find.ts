/**
 * `find` (docs/protocol.md §10): plan each OR-branch on the cheapest access path, read a bounded
 * candidate set, evaluate the where-language in memory, then sort and page. The language, the
 * plans and the bounds are pure (find-query.ts); this module runs the reads they decide.
 *
 * Access paths, cheapest first: `cid` (BatchGetItem), `members` (the members `byClient` index),
 * `name` (`byName` index), `creator` (`byCreator` index), else a Scan of the conversations table
 * that stops at the candidate bound (IM_FIND_MAX_CANDIDATES, default 1000). Any path that would
 * read more than the bound answers 4310 instead of reading on: the bound is what one `find` may
 * cost.
 */
import { mapLimit } from './concurrency';
import {
  conversationIdsByCreator,
  conversationIdsByName,
  getConversations,
  scanConversations,
  type ConversationRecord,
} from '../stores/conversations';
import { conversationIdsOf, getMemberPairs, memberIds } from '../stores/members';
import { type ConversationView } from '../protocol/views';
import { conversationView } from './conversation-view';
import { messageView } from './message-model';
import { getMessagesAt } from '../stores/messages';
import {
  comparator,
  matches,
  memberCandidates,
  membershipTests,
  parseSort,
  parseWhere,
  planBranch,
  tooExpensive,
  type Candidate,
  type Plan,
  type Where,
} from './find-query';
import type { Ctx } from './context';
import type { Request } from '../protocol/schemas';
import type { Session } from './session';

export interface FindResult {
  conversations: ConversationView[];
}

/** Ids with this name or creator, 4310 when more than the bound have it. */
async function indexCids(ctx: Ctx, attr: 'name' | 'creator', value: string): Promise<string[]> {
  const max = ctx.deps.config.findMaxCandidates;
  // One past the bound: reading it proves there are too many.
  const read = attr === 'name' ? conversationIdsByName : conversationIdsByCreator;
  const out = await read(ctx, value, max + 1);
  if (out.length > max) throw tooExpensive(`more than ${max} conversations have this ${attr}`);
  return out;
}

async function memberCids(ctx: Ctx, clientIds: string[], all: boolean): Promise<string[]> {
  const max = ctx.deps.config.findMaxCandidates;
  if (clientIds.length > 10) throw tooExpensive('a members constraint names more than 10 clients');
  const lists = await Promise.all(
    clientIds.map(async (c) => {
      const cids = await conversationIdsOf(ctx, c, max + 1);
      if (cids.length > max) throw tooExpensive(`${c} is in more than ${max} conversations`);
      return cids;
    }),
  );
  return memberCandidates(lists, all);
}

async function scanAll(ctx: Ctx): Promise<ConversationRecord[]> {
  const max = ctx.deps.config.findMaxCandidates;
  const { conversations, more } = await scanConversations(ctx, max + 1);
  if (conversations.length > max || more) throw tooExpensive(`no indexed condition, and there are more than ${max} conversations`);
  return conversations;
}

async function candidatesFor(ctx: Ctx, plans: Plan[]): Promise<ConversationRecord[]> {
  if (plans.some((p) => p.kind === 'scan')) return scanAll(ctx);
  const cids = new Set<string>();
  for (const p of plans) {
    const found =
      p.kind === 'cids'
        ? p.cids
        : p.kind === 'members'
          ? await memberCids(ctx, p.clientIds, p.all)
          : p.kind === 'name'
            ? (await Promise.all(p.values.map((v) => indexCids(ctx, 'name', v)))).flat()
            : p.kind === 'creator'
              ? (await Promise.all(p.values.map((v) => indexCids(ctx, 'creator', v)))).flat()
              : [];
    found.forEach((c) => cids.add(c));
    const max = ctx.deps.config.findMaxCandidates;
    if (cids.size > max) throw tooExpensive(`the conditions select more than ${max} conversations`);
  }
  return getConversations(ctx, [...cids]);
}

/** Membership tests the where needs, answered with BatchGetItem on (cid, clientId) pairs. */
async function membershipOracle(ctx: Ctx, where: Where, convs: ConversationRecord[]): Promise<(cid: string, clientId: string) => boolean> {
  const pairs = membershipTests(where, convs);
  if (pairs.length === 0) return () => false;
  const found = new Set((await getMemberPairs(ctx, pairs)).map((m) => `${m.cid}\n${m.clientId}`));
  return (cid, clientId) => found.has(`${cid}\n${clientId}`);
}

export async function findConversations(ctx: Ctx, req: Request<'find'>, session: Session): Promise<FindResult> {
  const where = parseWhere(req.where);
  const sortKeys = parseSort(req.sort);
  const convs = await candidatesFor(ctx, where.map(planBranch));
  const has = await membershipOracle(ctx, where, convs);
  const hits = convs.filter((conv) => {
    const candidate: Candidate = {
      record: conv as unknown as Record<string, unknown>,
      memberCount: conv.memberCount ?? 0,
      transient: conv.transient === true,
      hasMember: (clientId) => has(conv.cid, clientId),
    };
    return where.some((branch) => matches(candidate, branch));
  });
  const compare = comparator(sortKeys);
  const page = hits
    .sort((a, b) => compare(a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>))
    .slice(req.skip, req.skip + req.limit);
  const muted = new Set(
    (
      await getMemberPairs(
        ctx,
        page.filter((c) => !c.transient).map((c) => ({ cid: c.cid, clientId: session.clientId })),
      )
    )
      .filter((m) => m.muted)
      .map((m) => m.cid),
  );
  const last = req.lastMessage
    ? await getMessagesAt(
        ctx,
        page.map((c) => ({ cid: c.cid, seq: c.lastSeq ?? 0 })),
      )
    : undefined;
  const conversations = await mapLimit(page, 8, async (c) => {
    // compact: no member lists (one query per conversation saved).
    const view = conversationView(c, c.transient || req.compact ? undefined : await memberIds(ctx, c.cid), muted.has(c.cid));
    if (req.compact && !c.transient) delete view.members;
    if (last) {
      const m = last.get(`${c.cid}#${c.lastSeq ?? 0}`);
      view.lastMessage = m ? messageView(m) : null;
    }
    return view;
  });
  return { conversations };
}
