/**
 * `query`: message history, newest page first (docs/protocol.md §4); with `after` (extension), the
 * oldest page after that message instead.
 */
import { queryHistory } from '../domain/history';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('query', {
  session: true,
  run: (ctx, req, session) => queryHistory(ctx, { ...req, from: req.after ? 'oldest' : 'newest' }, session),
});
