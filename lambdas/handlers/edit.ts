/** `edit` (extension): the sender replaces a stored message's data; the audience gets `messageUpdated`. */
import { modifyMessage } from '../domain/message-edits';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('edit', {
  session: true,
  run: (ctx, req, session) => modifyMessage(ctx, req, session),
});
