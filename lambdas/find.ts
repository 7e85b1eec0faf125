/** `find`: conversation search (PROTOCOL.md §10). */
import { findConversations } from './core/find';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('find', { session: true, run: findConversations });
