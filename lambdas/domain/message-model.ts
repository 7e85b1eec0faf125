/** Stored messages, and how they become the message object clients see (docs/protocol.md §3.2). */
import type { MessageView } from '../protocol/views';

export interface MessageRecord {
  cid: string;
  seq: number;
  id: string;
  from: string;
  data: string;
  timestamp: number;
  receipt?: boolean;
  /** Clients it @-mentions, and whether it mentions everyone. */
  mentions?: string[];
  mentionAll?: boolean;
  /** `_lctype` of a typed message, for history by type. */
  lctype?: number;
  /** When the sender last edited or recalled it. */
  updatedAt?: number;
  recalled?: boolean;
}

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
