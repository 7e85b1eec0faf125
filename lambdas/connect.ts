/** `$connect`: records the connection; the session is bound later by `open`. */
import { defineLifecycle } from './core/route';
import { putConnection } from './core/session-store';

export const { handle, handler } = defineLifecycle(async (ctx, event) => {
  await putConnection(ctx, {
    connectedAt: event.requestContext.connectedAt ?? ctx.now,
    sourceIp: event.requestContext.identity?.sourceIp,
  });
  return { statusCode: 200 };
});
