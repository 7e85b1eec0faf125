/** `count`: members of a normal conversation. */
import { countConversation } from './core/membership';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('count', { session: true, run: (ctx, req) => countConversation(ctx, req) });
