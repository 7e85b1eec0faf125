/** `mute`: no offline push from this conversation for the caller; messages still arrive. */
import { muteConversation } from '../domain/membership';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('mute', {
  session: true,
  run: (ctx, req, session) => muteConversation(ctx, req.cid, session, true),
});
