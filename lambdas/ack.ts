/** `ack`: records the client's delivered point (PROTOCOL.md §8). */
import { ackMessages } from './core/messages';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('ack', { session: true, run: ackMessages });
