/**
 * `find` (PROTOCOL.md §10): plan each OR-branch on the cheapest access path, read a bounded
 * candidate set, evaluate the where-language in memory, then sort and page.
 *
 * Access paths, cheapest first: `cid` (BatchGetItem), `members` (the members `byClient` index),
 * `name` (`byName` index), `creator` (`byCreator` index), else a Scan of the conversations table
 * that stops at the candidate bound (IM_max, default 1000). Any path that would read more than the bound answers 4310
 * instead of reading on: the bound is what one `find` may cost.
 */
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Item } from '../stores/dynamo';
import { mapLimit } from './concurrency';
import {
  conversationIdsOf,
  conversationView,
  getConversations,
  getMemberPairs,
  memberIds,
  type ConversationRecord,
} from '../stores/conversations';
import { type ConversationView } from '../protocol/views';
import { ImError } from '../protocol/errors';
import { messageView } from './message-model';
import { getMessagesAt } from '../stores/messages';
import { comparator, matches, parseSort, parseWhere, type Branch, type Candidate } from './find-query';
import type { Ctx } from './context';
import type { Request } from '../protocol/schemas';
import type { Session } from '../stores/connections';

/** Most (conversation, client) membership tests one `find` may make. */
export const FIND_MAX_MEMBER_TESTS = 5000;

type Plan =
  | { kind: 'cids'; cids: string[] }
  | { kind: 'members'; clientIds: string[]; all: boolean }
  | { kind: 'name'; values: string[] }
  | { kind: 'creator'; values: string[] }
  | { kind: 'scan' };

function strings(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

/** The most selective indexed condition of a branch. */
export function planBranch(branch: Branch): Plan {
  const pick = (field: string, ops: string[]) => branch.find((c) => c.field === field && ops.includes(c.op));
  const cid = pick('cid', ['$eq', '$in']);
  if (cid) return { kind: 'cids', cids: strings(cid.value) };
  const member = pick('members', ['$eq', '$all', '$in']);
  if (member) return { kind: 'members', clientIds: strings(member.value), all: member.op !== '$in' };
  const name = pick('name', ['$eq', '$in']);
  if (name && strings(name.value).length > 0) return { kind: 'name', values: strings(name.value) };
  const creator = pick('creator', ['$eq', '$in']);
  if (creator) return { kind: 'creator', values: strings(creator.value) };
  return { kind: 'scan' };
}

const tooExpensive = (why: string) =>
  new ImError('CONVERSATION_QUERY_FAILED', `query too expensive: ${why}; constrain it by cid, members, name or creator`);

async function indexCids(ctx: Ctx, index: 'byName' | 'byCreator', attr: 'name' | 'creator', value: string): Promise<string[]> {
  const { db, config } = ctx.deps;
  const max = config.findMaxCandidates;
  const out: string[] = [];
  let start: Item | undefined;
  do {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.conversations,
        IndexName: index,
        KeyConditionExpression: '#k = :v',
        ExpressionAttributeNames: { '#k': attr },
        ExpressionAttributeValues: { ':v': value },
        Limit: max + 1 - out.length,
        ExclusiveStartKey: start,
      }),
    );
    out.push(...(res.Items ?? []).map((i) => i.cid as string));
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start && out.length <= max);
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
  if (!all) return [...new Set(lists.flat())];
  return lists.reduce((acc, l) => acc.filter((x) => l.includes(x)));
}

async function scanAll(ctx: Ctx): Promise<ConversationRecord[]> {
  const { db, config } = ctx.deps;
  const max = config.findMaxCandidates;
  const out: ConversationRecord[] = [];
  let start: Item | undefined;
  do {
    const res = await db.send(
      new ScanCommand({ TableName: config.tables.conversations, Limit: max + 1 - out.length, ExclusiveStartKey: start }),
    );
    out.push(...((res.Items ?? []) as unknown as ConversationRecord[]));
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start && out.length <= max);
  if (out.length > max || start) throw tooExpensive(`no indexed condition, and there are more than ${max} conversations`);
  return out;
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
            ? (await Promise.all(p.values.map((v) => indexCids(ctx, 'byName', 'name', v)))).flat()
            : p.kind === 'creator'
              ? (await Promise.all(p.values.map((v) => indexCids(ctx, 'byCreator', 'creator', v)))).flat()
              : [];
    found.forEach((c) => cids.add(c));
    const max = ctx.deps.config.findMaxCandidates;
    if (cids.size > max) throw tooExpensive(`the conditions select more than ${max} conversations`);
  }
  return getConversations(ctx, [...cids]);
}

/** Membership tests the where needs, answered with BatchGetItem on (cid, clientId) pairs. */
async function membershipOracle(
  ctx: Ctx,
  where: Branch[],
  convs: ConversationRecord[],
): Promise<(cid: string, clientId: string) => boolean> {
  const clients = new Set<string>();
  for (const b of where)
    for (const c of b) if (c.field === 'members' && c.op !== '$size' && c.op !== '$exists') strings(c.value).forEach((x) => clients.add(x));
  const normal = convs.filter((c) => !c.transient);
  if (clients.size === 0 || normal.length === 0) return () => false;
  if (clients.size * normal.length > FIND_MAX_MEMBER_TESTS) throw tooExpensive('too many membership tests');
  const pairs = normal.flatMap((c) => [...clients].map((clientId) => ({ cid: c.cid, clientId })));
  const found = new Set((await getMemberPairs(ctx, pairs)).map((m) => `${m.cid}\n${m.clientId}`));
  return (cid, clientId) => found.has(`${cid}\n${clientId}`);
}

export async function findConversations(ctx: Ctx, req: Request<'find'>, session: Session): Promise<{ conversations: ConversationView[] }> {
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
