/** `$disconnect`: removes the connection and its presence entry. */
import { defineLifecycle } from './core/route';
import { disconnectCleanup } from './core/sessions';

export const { handle, handler } = defineLifecycle(async (ctx) => {
  await disconnectCleanup(ctx);
  return { statusCode: 200 };
});
