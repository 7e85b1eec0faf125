/**
 * `update`: a conversation's name and attributes (docs/protocol.md §6.4, also serving
 * LeanCloud's `conv/update`). Attributes are changed by path, so LeanCloud's dotted keys
 * (`attr.color`) reach into nested objects; a change to undefined removes the key.
 */
import { replaceConversationDetails, requireConversation, type ConversationRecord } from '../stores/conversations';
import { getMember, memberIds } from '../stores/members';
import { conversationView, type ConversationResult } from './conversation-view';
import { checkAttributesSize } from './conversations';
import { sendToClients } from './fan-out';
import { ImError } from '../protocol/errors';
import type { Ctx } from './context';
import { FORBIDDEN_KEYS } from '../protocol/schemas';
import type { Session } from './session';

export interface AttributeChange {
  /** Keys from the top of `attributes` down; each non-empty, without a leading `$`. */
  path: string[];
  /** undefined removes the key. */
  value: unknown;
}

export interface ConversationUpdate {
  cid: string;
  /** null removes the name; undefined leaves it. */
  name?: string | null;
  changes: AttributeChange[];
}

/** Concurrent updates of one conversation retry on a fresh read, after a growing random pause. */
const MAX_ATTEMPTS = 8;
const pause = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * 25 * attempt));

function applyChange(attributes: Record<string, unknown>, { path, value }: AttributeChange): void {
  let node = attributes;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      if (value === undefined) return;
      node[key] = {};
    }
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/**
 * Normal conversations: members may update. Chat rooms have no members: only their creator.
 * Returns whether the updater muted the conversation (for the view it gets back).
 */
async function requireUpdater(ctx: Ctx, conv: ConversationRecord, clientId: string): Promise<{ muted: boolean }> {
  if (conv.transient) {
    if (conv.creator !== clientId) throw new ImError('OPERATION_UNAUTHORIZED', 'only the creator can update a chat room');
    return { muted: false };
  }
  const member = await getMember(ctx, conv.cid, clientId);
  if (!member) throw new ImError('OPERATION_UNAUTHORIZED', 'only members can update');
  return { muted: member.muted === true };
}

export async function updateConversation(ctx: Ctx, update: ConversationUpdate, session: Session): Promise<ConversationResult> {
  for (const { path } of update.changes) {
    if (path.length === 0 || path.some((k) => k.length === 0 || k.startsWith('$') || FORBIDDEN_KEYS.has(k))) {
      throw new ImError('UNPARSEABLE_RAW_MESSAGE', `attribute path "${path.join('.')}" has an empty, "$"-prefixed or reserved key`);
    }
  }
  for (let attempt = 1; ; attempt++) {
    const conv = await requireConversation(ctx, update.cid);
    const { muted } = await requireUpdater(ctx, conv, session.clientId);
    const attributes = structuredClone(conv.attributes ?? {});
    for (const change of update.changes) applyChange(attributes, change);
    checkAttributesSize(attributes);
    const name = update.name === undefined ? conv.name : update.name || undefined;
    const next: ConversationRecord = { ...conv, attributes, updatedAt: Math.max(ctx.now, conv.updatedAt + 1) };
    if (name === undefined) delete next.name;
    else next.name = name;
    if (await replaceConversationDetails(ctx, next, conv.updatedAt)) {
      const members = conv.transient ? undefined : await memberIds(ctx, conv.cid);
      if (members) {
        const event = {
          event: 'updated' as const,
          cid: conv.cid,
          by: session.clientId,
          name: next.name ?? null,
          attributes,
          updatedAt: next.updatedAt,
        };
        await sendToClients(ctx, members, event, { except: ctx.connectionId });
      }
      return { conversation: conversationView(next, members, muted) };
    }
    if (attempt >= MAX_ATTEMPTS) throw new ImError('INTERNAL_ERROR', 'the conversation is being updated concurrently; retry');
    await pause(attempt);
  }
}
