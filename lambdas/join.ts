/** `join`: the caller becomes a member (PROTOCOL.md §6). */
import { joinConversation } from './core/membership';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('join', { session: true, run: joinConversation });
