/**
 * Editing and recalling sent messages (docs/protocol.md §7.8; LeanCloud's `patch`). Only the
 * sender may change a message, while still in the conversation (or room). The stored message is
 * rewritten, so history shows the new content; everyone in the audience who is online gets
 * `messageUpdated`. A recalled message keeps its id and timestamp, and its data becomes
 * LeanCloud's recalled-message type (-127), which the SDKs render as "[该消息已撤回]".
 */
import { mapLimit } from './concurrency';
import { notePatch, type ConversationProgress } from '../stores/conversations';
import { ImError } from '../protocol/errors';
import { seqOfMessageId } from './ids';
import { messageView } from './message-model';
import { type MessageView } from '../protocol/views';
import { changedMessages, getMessage, rewriteMessage, type MessageRecord } from '../stores/messages';
import { audienceFor, replyAndDeliver } from './fan-out';
import { checkSize, typeField } from './messaging';
import type { Ctx, WithFollowUp } from './context';
import type { Session } from './session';

/** The data a recalled message is left with. */
export const RECALLED_DATA = JSON.stringify({ _lctype: -127 });

export interface MessageChange {
  cid: string;
  messageId: string;
  /** New data (edit); ignored when recalling. */
  data?: string;
  recall?: boolean;
}

/** An edit or recall answers with the message as it now is. */
export interface ModifyResult {
  message: MessageView;
}

export async function modifyMessage(ctx: Ctx, change: MessageChange, session: Session): Promise<ModifyResult | WithFollowUp> {
  const data = change.recall ? RECALLED_DATA : change.data;
  if (data === undefined) throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'an edit needs data');
  checkSize(ctx, data);
  const audience = await audienceFor(ctx, change.cid, session);
  const seq = seqOfMessageId(change.messageId);
  const stored = seq === undefined ? undefined : await getMessage(ctx, change.cid, seq);
  if (!stored || stored.id !== change.messageId) throw new ImError('MESSAGE_NOT_FOUND', 'no such message in this conversation');
  if (stored.from !== session.clientId) throw new ImError('OWNERSHIP_REQUIRED', 'only the sender can edit or recall a message');
  if (stored.recalled) {
    if (change.recall) return { message: messageView(stored) };
    throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'a recalled message cannot be edited');
  }
  const { lctype: _old, ...rest } = stored;
  const updated: MessageRecord = {
    ...rest,
    ...typeField(data),
    data,
    updatedAt: Math.max(ctx.now, (stored.updatedAt ?? stored.timestamp) + 1),
    ...(change.recall ? { recalled: true } : {}),
  };
  // A recall is final: one that landed meanwhile wins over this change.
  if (!(await rewriteMessage(ctx, updated))) throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'the message was recalled meanwhile');
  await notePatch(ctx, change.cid, updated.updatedAt!);
  const message = messageView(updated);
  return replyAndDeliver<ModifyResult>(ctx, change.cid, audience, { event: 'messageUpdated', message }, { message });
}

/** Most changes one catch-up returns per conversation (the newest ones). */
export const PATCHES_MAX_PER_CONVERSATION = 100;

/**
 * Messages of the given conversations (with their progress, as read at login) edited or recalled
 * after `since` (ms), oldest change first per conversation: what a client that was away missed.
 * One Query for each conversation changed since; none for the others.
 */
export async function changedSince(ctx: Ctx, progress: Map<string, ConversationProgress>, since: number): Promise<MessageView[]> {
  const touched = [...progress].filter(([, p]) => p.lastPatchAt !== null && p.lastPatchAt > since).map(([cid]) => cid);
  const pages = await mapLimit(touched, 8, async (cid) => {
    return (await changedMessages(ctx, cid, since, PATCHES_MAX_PER_CONVERSATION)).map((m) => messageView(m));
  });
  return pages.flat();
}
