/** `read`: moves the caller's read point (PROTOCOL.md §8). */
import { readMessages } from './core/messages';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('read', { session: true, run: readMessages });
