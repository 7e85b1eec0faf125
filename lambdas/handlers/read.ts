/** `read`: moves the caller's read point (docs/protocol.md §8). */
import { readMessages } from '../domain/receipts';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('read', { session: true, run: readMessages });
