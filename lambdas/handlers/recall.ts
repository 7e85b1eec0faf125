/** `recall` (extension): the sender takes a stored message back; the audience gets `messageUpdated`. */
import { modifyMessage } from '../domain/message-edits';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('recall', {
  session: true,
  run: (ctx, req, session) => modifyMessage(ctx, { ...req, recall: true }, session),
});
