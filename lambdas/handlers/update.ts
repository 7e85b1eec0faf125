/** `update` (extension): a conversation's name and attributes; members get `updated`. */
import { updateConversation } from '../domain/conversation-update';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('update', {
  session: true,
  run: (ctx, req, session) =>
    updateConversation(
      ctx,
      {
        cid: req.cid,
        ...(req.name !== undefined ? { name: req.name } : {}),
        changes: Object.entries(req.attributes ?? {}).map(([key, value]) => ({ path: [key], value: value === null ? undefined : value })),
      },
      session,
    ),
});
