/** `open`: binds the connection to a client (docs/protocol.md §5). */
import { defineAction } from '../runtime/route';
import { openSession } from '../domain/sessions';

export const { handle, handler } = defineAction('open', { session: false, run: openSession });
