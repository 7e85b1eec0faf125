/** `quit`: the caller leaves (PROTOCOL.md §6). */
import { quitConversation } from './core/membership';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('quit', { session: true, run: quitConversation });
