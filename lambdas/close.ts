/** `close`: logout on this connection. */
import { defineAction } from './core/route';
import { closeSession } from './core/sessions';

export const { handle, handler } = defineAction('close', { session: true, run: (ctx, _req, session) => closeSession(ctx, session) });
