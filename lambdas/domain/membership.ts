/** Group membership: join, quit, invite, kick, mute, count (PROTOCOL.md §6). */
import {
  addMembers,
  conversationView,
  countMembers,
  getMember,
  memberIds,
  removeMembers,
  requireConversation,
  setMuted,
  type ConversationRecord,
} from '../stores/conversations';
import { type ConversationView } from '../protocol/views';
import { sendToClients } from './fan-out';
import { ImError, type ErrorName } from '../protocol/errors';
import type { Ctx } from './context';
import type { Request } from '../protocol/schemas';
import { markLeft, type Session } from '../stores/connections';
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

/** Chat rooms have no member list: invite, kick, mute and unmute do not apply to them. */
function rejectRoom(conv: ConversationRecord): void {
  if (conv.transient) throw new ImError('NORMAL_CONVERSATION_REQUIRED', 'this action needs a normal conversation, not a chat room');
}

async function requireMember(ctx: Ctx, cid: string, clientId: string, what: string): Promise<void> {
  if (!(await getMember(ctx, cid, clientId))) throw new ImError('OPERATION_UNAUTHORIZED', `only members can ${what}`);
}

export async function joinConversation(ctx: Ctx, req: Request<'join'>, session: Session): Promise<{ conversation: ConversationView }> {
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
    // The joiner gets membersAdded too (PROTOCOL.md §6: operator column).
    await sendToClients(ctx, members, { event: 'membersAdded', cid: req.cid, members: [me], by: me });
  }
  return { conversation: conversationView(conv, members, member?.muted === true) };
}

export async function quitConversation(ctx: Ctx, req: Request<'quit'>, session: Session): Promise<object> {
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

export async function inviteMembers(
  ctx: Ctx,
  req: Request<'invite'>,
  session: Session,
): Promise<{ added: string[]; failed: FailedTarget[] }> {
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

export async function kickMembers(
  ctx: Ctx,
  req: Request<'kick'>,
  session: Session,
): Promise<{ removed: string[]; failed: FailedTarget[] }> {
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

export async function muteConversation(ctx: Ctx, cid: string, session: Session, muted: boolean): Promise<object> {
  const conv = await requireConversation(ctx, cid);
  rejectRoom(conv);
  if (!(await setMuted(ctx, cid, session.clientId, muted))) {
    throw new ImError('OPERATION_UNAUTHORIZED', `only members can ${muted ? 'mute' : 'unmute'} a conversation`);
  }
  return {};
}

export async function countConversation(ctx: Ctx, req: Request<'count'>): Promise<{ count: number }> {
  const conv = await requireConversation(ctx, req.cid);
  return { count: conv.transient ? await countOccupants(ctx, req.cid) : await countMembers(ctx, req.cid) };
}
