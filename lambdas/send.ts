/** `send`: store and fan out a message (PROTOCOL.md §7). */
import { sendMessage } from './core/messages';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('send', { session: true, run: sendMessage });
