/** `unmute`: offline push from this conversation again. */
import { muteConversation } from '../domain/membership';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('unmute', {
  session: true,
  run: (ctx, req, session) => muteConversation(ctx, req.cid, session, false),
});
