/** `$default`: frames that are not JSON objects or name no known action → 4114 (when they carry an id). */
import { defineLifecycle } from './core/route';
import { unroutableReply } from './core/frames';

export const { handle, handler } = defineLifecycle(async (_ctx, event) => {
  const body = unroutableReply(event.body);
  return body === undefined ? { statusCode: 200 } : { statusCode: 200, body };
});
