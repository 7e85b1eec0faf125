/** `$disconnect`: removes the connection and its presence entry. */
import { defineLifecycle } from '../runtime/route';
import { disconnectCleanup } from '../domain/sessions';

export const { handle, handler } = defineLifecycle(async (ctx) => {
  await disconnectCleanup(ctx);
  return { statusCode: 200 };
});
