/** The objects clients see on the wire (docs/protocol.md §3), as plain types: pure, no storage. */

/** A message (docs/protocol.md §3.2). */
export interface MessageView {
  id: string;
  cid: string;
  from: string;
  data: string;
  timestamp: number;
  seq?: number;
  transient?: true;
  receipt?: true;
  offline?: true;
  /** Only on messages that @-mention (extension). */
  mentions?: string[];
  mentionAll?: true;
  /** Only on edited or recalled messages (extension). */
  updatedAt?: number;
  recalled?: true;
}

/** A conversation (docs/protocol.md §3.1). */
export interface ConversationView {
  cid: string;
  name: string | null;
  creator: string;
  /** Absent for chat rooms. */
  members?: string[];
  attributes: Record<string, unknown>;
  transient: boolean;
  unique: boolean;
  createdAt: number;
  updatedAt: number;
  lastMessageAt: number | null;
  /** Muted by the client the view is for. */
  muted: boolean;
  /** Only when asked for (`find` with `lastMessage`): the newest stored message, or null. */
  lastMessage?: MessageView | null;
}

/** One conversation's entry in an `unread` event (docs/protocol.md §8.2). */
export interface UnreadEntry {
  cid: string;
  unread: number;
  /** Absent in the counts sent to a client's other connections after `read`. */
  lastMessage?: MessageView | null;
  /** Present (true) when an unread message @-mentions the client. */
  mentioned?: true;
}
