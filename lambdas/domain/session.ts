/**
 * The session model: who a connection is bound to by `open`, as every session-bound action sees
 * it. Kept apart from the session use cases (sessions.ts) because the runtime loads a session
 * for every route, and this module must not drag open/close and everything they reach into each
 * route's bundle.
 */
import { ImError } from '../protocol/errors';
import { deviceKeysOf, getConnection, nonNativeProtocol, type ConnectionRecord } from '../stores/connections';
import type { WireProtocol } from '../protocol/subprotocols';
import type { Ctx } from './context';

export interface Session {
  clientId: string;
  connectionId: string;
  tag?: string;
  deviceId?: string;
  unreadMode: boolean;
  /** The chat room this connection is in, if any (at most one). */
  room?: string;
  /** The push devices this session named at `open` (registered there or earlier), unregistered by `close`. */
  pushDeviceKeys: string[];
  protocol?: WireProtocol;
}

/** The session bound to this connection, or 4105. */
export async function requireSession(ctx: Ctx): Promise<Session> {
  return sessionOf(ctx, await getConnection(ctx));
}

/** The session of an already loaded connection record, or 4105. */
export function sessionOf(ctx: Pick<Ctx, 'connectionId'>, conn: ConnectionRecord | undefined): Session {
  if (!conn?.clientId) throw new ImError('SESSION_REQUIRED', 'open a session first');
  const protocol = nonNativeProtocol(conn);
  return {
    clientId: conn.clientId,
    connectionId: ctx.connectionId,
    tag: conn.tag,
    deviceId: conn.deviceId,
    unreadMode: conn.unreadMode === true,
    ...(conn.room ? { room: conn.room } : {}),
    pushDeviceKeys: deviceKeysOf(conn),
    ...(protocol ? { protocol } : {}),
  };
}
