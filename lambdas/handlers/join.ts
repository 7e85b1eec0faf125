/** `join`: the caller becomes a member (docs/protocol.md §6). */
import { joinConversation } from '../domain/membership';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('join', { session: true, run: joinConversation });
