/** `find`: conversation search (docs/protocol.md §10). */
import { findConversations } from '../domain/find';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('find', { session: true, run: findConversations });
