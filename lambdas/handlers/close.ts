/** `close`: logout on this connection. */
import { defineAction } from '../runtime/route';
import { closeSession } from '../domain/sessions';

export const { handle, handler } = defineAction('close', { session: true, run: (ctx, _req, session) => closeSession(ctx, session) });
