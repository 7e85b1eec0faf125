/**
 * `$default`: frames no route matched. From a LeanCloud connection (base64 protobuf) they are
 * LeanCloud commands; otherwise a frame carrying an id gets 4114.
 */
import { unroutableReply, parseBody } from '../protocol/frames';
import { handleLeanCloudFrame } from '../leancloud';
import { defineLifecycle } from '../runtime/route';
import { getConnection } from '../stores/connections';

export const { handle, handler } = defineLifecycle(async (ctx, event) => {
  // Only non-JSON frames can be LeanCloud's; only then is the connection looked up.
  if (typeof event.body === 'string' && parseBody(event.body) === undefined && /^[A-Za-z0-9+/=\s]+$/.test(event.body)) {
    const conn = await getConnection(ctx);
    if (conn?.protocol === 'leancloud') return handleLeanCloudFrame(ctx, event.body, conn);
  }
  const body = unroutableReply(event.body);
  return body === undefined ? { statusCode: 200 } : { statusCode: 200, body };
});
