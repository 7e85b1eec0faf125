/** `create`: a new conversation (PROTOCOL.md §6). */
import { createConversation } from './core/conversations';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('create', { session: true, run: createConversation });
