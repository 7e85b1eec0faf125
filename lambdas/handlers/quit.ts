/** `quit`: the caller leaves (docs/protocol.md §6). */
import { quitConversation } from '../domain/membership';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('quit', { session: true, run: quitConversation });
