/**
 * Editing and recalling sent messages (extension of PROTOCOL.md; LeanCloud's `patch`). Only the
 * sender may change a message, while still in the conversation (or room). The stored message is
 * rewritten, so history shows the new content; everyone in the audience who is online gets
 * `messageUpdated`. A recalled message keeps its id and timestamp, and its data becomes
 * LeanCloud's recalled-message type (-127), which the SDKs render as "[该消息已撤回]".
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailed, ImError } from './errors';
import { seqOfMessageId } from './ids';
import { messageView, type MessageRecord, type MessageView } from './message-model';
import { audienceFor, checkSize, getMessage, replyAndDeliver } from './messages';
import type { Ctx, WithFollowUp } from './route';
import type { Session } from './session-store';

/** The data a recalled message is left with. */
export const RECALLED_DATA = JSON.stringify({ _lctype: -127 });

export interface MessageChange {
  cid: string;
  messageId: string;
  /** New data (edit); ignored when recalling. */
  data?: string;
  recall?: boolean;
}

export async function modifyMessage(ctx: Ctx, change: MessageChange, session: Session): Promise<{ message: MessageView } | WithFollowUp> {
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
  const updated: MessageRecord = {
    ...stored,
    data,
    updatedAt: Math.max(ctx.now, (stored.updatedAt ?? stored.timestamp) + 1),
    ...(change.recall ? { recalled: true } : {}),
  };
  await rewrite(ctx, updated);
  const message = messageView(updated);
  return replyAndDeliver(ctx, change.cid, audience, { event: 'messageUpdated', message }, { message });
}

/** Writes the new content unless the message was recalled meanwhile (a recall is final). */
async function rewrite(ctx: Ctx, m: MessageRecord): Promise<void> {
  const { db, config } = ctx.deps;
  try {
    await db.send(
      new UpdateCommand({
        TableName: config.tables.messages,
        Key: { cid: m.cid, seq: m.seq },
        UpdateExpression: `SET #data = :d, updatedAt = :u${m.recalled ? ', recalled = :r' : ''}`,
        ConditionExpression: '#from = :me AND attribute_not_exists(recalled)',
        ExpressionAttributeNames: { '#data': 'data', '#from': 'from' },
        ExpressionAttributeValues: { ':d': m.data, ':u': m.updatedAt, ':me': m.from, ...(m.recalled ? { ':r': true } : {}) },
      }),
    );
  } catch (err) {
    if (isConditionFailed(err)) throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'the message was recalled meanwhile');
    throw err;
  }
}
