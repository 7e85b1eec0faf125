/** `count`: members of a normal conversation. */
import { countConversation } from '../domain/membership';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('count', { session: true, run: (ctx, req) => countConversation(ctx, req) });
