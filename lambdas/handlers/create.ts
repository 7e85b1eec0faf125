/** `create`: a new conversation (docs/protocol.md §6). */
import { createConversation } from '../domain/conversations';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('create', { session: true, run: createConversation });
