/** Group membership: join, quit, invite, kick, mute, count (docs/protocol.md §6). */
import { adjustMemberCount, requireConversation, setMemberCount, type ConversationRecord } from '../stores/conversations';
import {
  countMembers,
  deleteMemberIfPresent,
  getMember,
  memberIds,
  memberIdsAmong,
  newMember,
  putMemberIfAbsent,
  setMuted,
} from '../stores/members';
import { conversationView, type ConversationResult } from './conversation-view';
import { MAX_MEMBERS, afterRefusal, highestCountAdmitting, unusedSeatsDelta } from './seats';
import { sendToClients } from './fan-out';
import { ImError, type ErrorName } from '../protocol/errors';
import type { Ctx } from './context';
import type { Request } from '../protocol/schemas';
import { type Session } from './session';
import { markLeft } from '../stores/presence';
import { mapLimit } from './concurrency';
import { countOccupants, enterRoom, forgetRoom, leaveRoom } from './rooms';
import { verifySignature } from './signatures';

export interface FailedTarget {
  clientId: string;
  code: number;
  name: ErrorName;
  message: string;
}

function failed(clientIds: string[], name: ErrorName, message: string): FailedTarget[] {
  return clientIds.map((clientId) => ({ ...new ImError(name, message).toBody(), clientId }));
}

/** Answers without a body (`quit`, `mute`, `unmute`): the reply's `result` is `{}`. */
export type EmptyResult = Record<string, never>;

export interface InviteResult {
  added: string[];
  failed: FailedTarget[];
}

export interface KickResult {
  removed: string[];
  failed: FailedTarget[];
}

export interface CountResult {
  count: number;
}

/** Who a membership write changed, and who it found already as asked. */
interface MembershipChange {
  changed: string[];
  unchanged: string[];
}

/**
 * Reserves `n` seats under the member limit. The counter can drift upwards if a writer died
 * between reserving and writing members; when it says "full", it is recounted and repaired once.
 */
async function reserveSeats(ctx: Ctx, cid: string, n: number): Promise<boolean> {
  if (await adjustMemberCount(ctx, cid, n, highestCountAdmitting(n))) return true;
  const next = afterRefusal(await countMembers(ctx, cid), n);
  if (next.kind === 'full') return false;
  await setMemberCount(ctx, cid, next.count);
  return adjustMemberCount(ctx, cid, n, highestCountAdmitting(n));
}

/**
 * Adds members with one conditional put each, so exactly the clients that were not members are
 * reported as added. Seats are reserved first; 4304 when they do not fit.
 */
async function addMembers(ctx: Ctx, conv: ConversationRecord, clientIds: string[]): Promise<MembershipChange> {
  const existing = new Set(await memberIdsAmong(ctx, conv.cid, clientIds));
  const candidates = clientIds.filter((c) => !existing.has(c));
  if (candidates.length === 0) return { changed: [], unchanged: clientIds };
  if (!(await reserveSeats(ctx, conv.cid, candidates.length))) {
    throw new ImError('CONVERSATION_FULL', `a conversation has at most ${MAX_MEMBERS} members`);
  }
  const added = await mapLimit(candidates, 16, (clientId) =>
    putMemberIfAbsent(ctx, newMember(conv.cid, clientId, ctx.now, conv.lastSeq)),
  ).catch(async (err: unknown) => {
    await adjustMemberCount(ctx, conv.cid, -candidates.length).catch(() => undefined);
    throw err;
  });
  const changed = candidates.filter((_, i) => added[i]);
  const giveBack = unusedSeatsDelta(candidates.length, changed.length);
  if (giveBack < 0) await adjustMemberCount(ctx, conv.cid, giveBack);
  return { changed, unchanged: clientIds.filter((c) => !changed.includes(c)) };
}

/** Removes members with one conditional delete each; reports who really was removed. */
async function removeMembers(ctx: Ctx, cid: string, clientIds: string[]): Promise<MembershipChange> {
  const removed = await mapLimit(clientIds, 16, (clientId) => deleteMemberIfPresent(ctx, cid, clientId));
  const changed = clientIds.filter((_, i) => removed[i]);
  if (changed.length > 0) await adjustMemberCount(ctx, cid, -changed.length);
  return { changed, unchanged: clientIds.filter((c) => !changed.includes(c)) };
}

/** Chat rooms have no member list: invite, kick, mute and unmute do not apply to them. */
function rejectRoom(conv: ConversationRecord): void {
  if (conv.transient) throw new ImError('NORMAL_CONVERSATION_REQUIRED', 'this action needs a normal conversation, not a chat room');
}

async function requireMember(ctx: Ctx, cid: string, clientId: string, what: string): Promise<void> {
  if (!(await getMember(ctx, cid, clientId))) throw new ImError('OPERATION_UNAUTHORIZED', `only members can ${what}`);
}

export async function joinConversation(ctx: Ctx, req: Request<'join'>, session: Session): Promise<ConversationResult> {
  const me = session.clientId;
  const conv = await requireConversation(ctx, req.cid);
  await verifySignature(ctx, 'join', me, req.signature, { cid: req.cid });
  if (conv.transient) {
    // No membership events in rooms; joining another room leaves the current one.
    if (session.room !== req.cid) await enterRoom(ctx, session, req.cid);
    return { conversation: conversationView(conv, undefined, false) };
  }
  const { changed } = await addMembers(ctx, conv, [me]);
  const members = await memberIds(ctx, req.cid);
  const member = await getMember(ctx, req.cid, me);
  if (changed.length > 0) {
    // The joiner gets membersAdded too (docs/protocol.md §6: operator column).
    await sendToClients(ctx, members, { event: 'membersAdded', cid: req.cid, members: [me], by: me });
  }
  return { conversation: conversationView(conv, members, member?.muted === true) };
}

export async function quitConversation(ctx: Ctx, req: Request<'quit'>, session: Session): Promise<EmptyResult> {
  const me = session.clientId;
  const conv = await requireConversation(ctx, req.cid);
  if (conv.transient) {
    if (session.room === req.cid) {
      await leaveRoom(ctx, session);
      await forgetRoom(ctx, me);
    }
    return {};
  }
  const { changed } = await removeMembers(ctx, req.cid, [me]);
  // Quitting a conversation you are not in is a no-op, so a retried quit succeeds.
  if (changed.length > 0) {
    await markLeft(ctx, me, req.cid);
    const remaining = await memberIds(ctx, req.cid);
    await sendToClients(ctx, remaining, { event: 'membersRemoved', cid: req.cid, members: [me], by: me });
  }
  return {};
}

export async function inviteMembers(ctx: Ctx, req: Request<'invite'>, session: Session): Promise<InviteResult> {
  const me = session.clientId;
  const conv = await requireConversation(ctx, req.cid);
  rejectRoom(conv);
  await requireMember(ctx, req.cid, me, 'invite');
  await verifySignature(ctx, 'invite', me, req.signature, { cid: req.cid, members: req.members });
  const targets = [...new Set(req.members)];
  const { changed: added, unchanged } = await addMembers(ctx, conv, targets);
  if (added.length > 0) {
    const members = await memberIds(ctx, req.cid);
    const view = conversationView(conv, members, false);
    // Targets learn they were invited before anyone hears that members were added.
    await sendToClients(ctx, added, { event: 'invited', cid: req.cid, by: me, conversation: view });
    await sendToClients(ctx, members, { event: 'membersAdded', cid: req.cid, members: added, by: me });
  }
  return { added, failed: failed(unchanged, 'ALREADY_MEMBER', 'already a member of this conversation') };
}

export async function kickMembers(ctx: Ctx, req: Request<'kick'>, session: Session): Promise<KickResult> {
  const me = session.clientId;
  const conv = await requireConversation(ctx, req.cid);
  rejectRoom(conv);
  if (ctx.deps.config.kickPolicy === 'creator') {
    if (conv.creator !== me) throw new ImError('OPERATION_UNAUTHORIZED', 'only the creator can kick members');
  } else {
    await requireMember(ctx, req.cid, me, 'kick');
  }
  await verifySignature(ctx, 'kick', me, req.signature, { cid: req.cid, members: req.members });
  const targets = [...new Set(req.members)];
  const { changed: removed, unchanged } = await removeMembers(ctx, req.cid, targets);
  if (removed.length > 0) {
    // Marked before they are told, so that no message of the conversation follows `kicked`.
    await mapLimit(removed, 16, (c) => markLeft(ctx, c, req.cid));
    await sendToClients(ctx, removed, { event: 'kicked', cid: req.cid, by: me });
    const remaining = await memberIds(ctx, req.cid);
    await sendToClients(ctx, remaining, { event: 'membersRemoved', cid: req.cid, members: removed, by: me });
  }
  return { removed, failed: failed(unchanged, 'MEMBERSHIP_REQUIRED', 'not a member of this conversation') };
}

export async function muteConversation(ctx: Ctx, cid: string, session: Session, muted: boolean): Promise<EmptyResult> {
  const conv = await requireConversation(ctx, cid);
  rejectRoom(conv);
  if (!(await setMuted(ctx, cid, session.clientId, muted))) {
    throw new ImError('OPERATION_UNAUTHORIZED', `only members can ${muted ? 'mute' : 'unmute'} a conversation`);
  }
  return {};
}

export async function countConversation(ctx: Ctx, req: Request<'count'>): Promise<CountResult> {
  const conv = await requireConversation(ctx, req.cid);
  return { count: conv.transient ? await countOccupants(ctx, req.cid) : await countMembers(ctx, req.cid) };
}
