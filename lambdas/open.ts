/** `open`: binds the connection to a client (PROTOCOL.md §5). */
import { defineAction } from './core/route';
import { openSession } from './core/sessions';

export const { handle, handler } = defineAction('open', { session: false, run: openSession });
