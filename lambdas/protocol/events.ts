/**
 * Every event the server sends (docs/protocol.md §15), as one discriminated union: fan-out takes
 * only these, and each wire protocol's encoder handles each of them (or says it has no form).
 */
import type { ConversationView, MessageView, UnreadEntry } from './views';

export type ServerEvent =
  | { event: 'message'; message: MessageView }
  | { event: 'messageUpdated'; message: MessageView }
  /** Extension: offline messages packed into one frame (an `open` with `offlineBatch`). */
  | { event: 'messages'; messages: MessageView[] }
  | { event: 'delivered'; cid: string; messageId: string; deliveredAt: number; by: string }
  | { event: 'read'; cid: string; messageId: string; by: string; readAt: number }
  | { event: 'invited'; cid: string; by: string; conversation: ConversationView }
  | { event: 'kicked'; cid: string; by: string }
  | { event: 'membersAdded'; cid: string; members: string[]; by: string }
  | { event: 'membersRemoved'; cid: string; members: string[]; by: string }
  | { event: 'updated'; cid: string; by: string; name: string | null; attributes: Record<string, unknown>; updatedAt: number }
  | { event: 'closed'; code: number; name: string }
  | { event: 'unread'; conversations: UnreadEntry[] };

export type EventName = ServerEvent['event'];

/**
 * An event's text frame for one connection of `clientId`; undefined when the protocol has no form
 * for it. May be asynchronous, so that an encoder can load what it needs on first use.
 */
export type EventEncoder = (event: ServerEvent, clientId: string) => string | undefined | Promise<string | undefined>;

/** The native protocol's encoder: the event as JSON. */
export const encodeNativeEvent: EventEncoder = (event) => JSON.stringify(event);
