/** `unmute`: offline push from this conversation again. */
import { muteConversation } from './core/membership';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('unmute', {
  session: true,
  run: (ctx, req, session) => muteConversation(ctx, req.cid, session, false),
});
