/** How stored messages become the message object clients see (docs/protocol.md §3.2). */
import type { MessageView } from '../protocol/views';
import type { MessageRecord } from '../stores/messages';

export function messageView(m: MessageRecord, extra: { offline?: boolean } = {}): MessageView {
  return {
    id: m.id,
    cid: m.cid,
    from: m.from,
    data: m.data,
    timestamp: m.timestamp,
    seq: m.seq,
    ...(m.receipt ? { receipt: true as const } : {}),
    ...(extra.offline ? { offline: true as const } : {}),
    ...(m.mentions?.length ? { mentions: m.mentions } : {}),
    ...(m.mentionAll ? { mentionAll: true as const } : {}),
    ...(m.updatedAt !== undefined ? { updatedAt: m.updatedAt } : {}),
    ...(m.recalled ? { recalled: true as const } : {}),
  };
}

/** Whether a message @-mentions `clientId` (never its own sender). */
export function mentions(m: Pick<MessageRecord, 'from' | 'mentions' | 'mentionAll'>, clientId: string): boolean {
  return m.from !== clientId && (m.mentionAll === true || (m.mentions ?? []).includes(clientId));
}
