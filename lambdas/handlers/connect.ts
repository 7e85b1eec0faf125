/**
 * `$connect`: records the connection and the subprotocol it negotiated; the session is bound
 * later by `open`.
 */
import { defineLifecycle } from '../runtime/route';
import { putConnection } from '../stores/connections';
import { selectSubprotocol, wireProtocolOf } from '../protocol/subprotocols';

export const { handle, handler } = defineLifecycle(async (ctx, event) => {
  const offer = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'sec-websocket-protocol')?.[1];
  const selected = selectSubprotocol(offer);
  await putConnection(ctx, {
    connectedAt: event.requestContext.connectedAt ?? ctx.now,
    sourceIp: event.requestContext.identity?.sourceIp,
    protocol: wireProtocolOf(selected),
  });
  // API Gateway completes the handshake with the headers of the $connect response.
  return selected ? { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': selected } } : { statusCode: 200 };
});
