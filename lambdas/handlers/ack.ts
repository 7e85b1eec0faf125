/** `ack`: records the client's delivered point (docs/protocol.md §8). */
import { ackMessages } from '../domain/receipts';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('ack', { session: true, run: ackMessages });
