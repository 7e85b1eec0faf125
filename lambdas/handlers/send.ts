/** `send`: store and fan out a message (docs/protocol.md §7). */
import { sendMessage } from '../domain/messaging';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('send', { session: true, run: sendMessage });
