/**
 * `$default`: frames no route matched. From a LeanCloud connection (base64 protobuf) they are
 * LeanCloud commands; otherwise a frame carrying an id gets 4114.
 */
import { unroutableReply } from './core/frames';
import { handleLeanCloudFrame } from './core/leancloud/adapter';
import { defineLifecycle, parseBody } from './core/route';
import { getConnection } from './core/session-store';

export const { handle, handler } = defineLifecycle(async (ctx, event) => {
  // Only non-JSON frames can be LeanCloud's; only then is the connection looked up.
  if (typeof event.body === 'string' && parseBody(event.body) === undefined && /^[A-Za-z0-9+/=\s]+$/.test(event.body)) {
    const conn = await getConnection(ctx);
    if (conn?.protocol === 'leancloud') return handleLeanCloudFrame(ctx, event.body, conn);
  }
  const body = unroutableReply(event.body);
  return body === undefined ? { statusCode: 200 } : { statusCode: 200, body };
});
