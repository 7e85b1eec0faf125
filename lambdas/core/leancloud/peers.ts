/**
 * Several IMClients on one socket: the JS SDK multiplexes every client of a `Realtime` over one
 * connection. The first client opened on a socket owns the socket's own connection record; each
 * further client gets a session record of its own, `<socket>#<clientId>`, which the core treats
 * as one more connection of that client (presence, rooms, fan-out), and which the connection
 * gateway posts to through the socket. Commands say which client they are for with `peerId`; the
 * SDK leaves it out while a socket has one client, which then means the socket's own.
 */
import { PEER_SESSION_SEPARATOR } from '../../adapters/connection-gateway';
import type { Ctx } from '../route';
import { CLIENT_ID_PATTERN } from '../schemas';
import { addPeerSession, getConnection, type ConnectionRecord } from '../session-store';
import type { LcCommand } from './codec';

export interface AddressedSession {
  ctx: Ctx;
  /** The record of the session the command is for; undefined when that client has none here. */
  conn: ConnectionRecord | undefined;
}

export async function sessionAddressed(ctx: Ctx, socket: ConnectionRecord, command: LcCommand): Promise<AddressedSession> {
  const peer = command.peerId;
  const opening = command.cmd === 'session' && command.op === 'open';
  if (!peer || peer === socket.clientId || (opening && socket.clientId === undefined)) return { ctx, conn: socket };
  const id = `${ctx.connectionId}${PEER_SESSION_SEPARATOR}${peer}`;
  const peerCtx: Ctx = { ...ctx, connectionId: id };
  if (socket.peers?.has(peer)) return { ctx: peerCtx, conn: await getConnection(ctx, id) };
  // A client id that is not valid fails in `open` (4103) before any record would name it.
  if (!opening || !CLIENT_ID_PATTERN.test(peer)) return { ctx: peerCtx, conn: undefined };
  return { ctx: peerCtx, conn: await addPeerSession(ctx, socket, id, peer) };
}
