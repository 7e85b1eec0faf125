/** A stored conversation as the wire object clients see (docs/protocol.md §3.1). */
import type { ConversationRecord } from '../stores/conversations';
import type { ConversationView } from '../protocol/views';

/** What `create`, `join` and `update` answer: the conversation as the caller now sees it. */
export interface ConversationResult {
  conversation: ConversationView;
}

/**
 * The view of `c` for one client: `members` is left out for chat rooms (they have none), and
 * `muted` is that client's flag. Missing optional fields get their wire defaults (null, {}, false),
 * so every view has every field the protocol promises.
 */
export function conversationView(c: ConversationRecord, members: string[] | undefined, muted: boolean): ConversationView {
  return {
    cid: c.cid,
    name: c.name ?? null,
    creator: c.creator,
    ...(c.transient ? {} : { members: members ?? [] }),
    attributes: c.attributes ?? {},
    transient: c.transient === true,
    unique: c.unique === true,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    lastMessageAt: c.lastMessageAt ?? null,
    muted,
  };
}
