/**
 * Several IMClients on one socket: the JS SDK multiplexes every client of a `Realtime` over one
 * connection. The first client opened on a socket owns the socket's own connection record; each
 * further client gets a session record of its own, `<socket>#<clientId>`, which the core treats
 * as one more connection of that client (presence, rooms, fan-out), and which the connection
 * gateway posts to through the socket. Commands say which client they are for with `peerId`; the
 * SDK leaves it out while a socket has one client, which then means the socket's own.
 */
import { PEER_SESSION_SEPARATOR } from '../gateways/connection-gateway';
import { ImError } from '../protocol/errors';
import type { Ctx } from '../domain/context';
import { CLIENT_ID_PATTERN } from '../protocol/schemas';
import { addPeerSession, getConnection, type ConnectionRecord } from '../stores/connections';
import type { LcCommand } from './codec';

/**
 * Clients one socket may carry, its own included. The socket's record lists the others and
 * `$disconnect` ends each of them, so the list must stay far below DynamoDB's 400 KB item limit
 * and within one `$disconnect`'s time; an app runs a handful of IMClients per `Realtime`.
 */
export const MAX_CLIENTS_PER_SOCKET = 16;

export interface AddressedSession {
  ctx: Ctx;
  /** The record of the session the command is for; undefined when that client has none here. */
  conn: ConnectionRecord | undefined;
  /**
   * For a `session/open` of a client the socket has no record for yet: creates it. Called by
   * the open only once the client is proven, so failed logins leave nothing on the socket.
   */
  establish?: () => Promise<ConnectionRecord>;
}

export async function sessionAddressed(ctx: Ctx, socket: ConnectionRecord, command: LcCommand): Promise<AddressedSession> {
  const peer = command.peerId;
  const opening = command.cmd === 'session' && command.op === 'open';
  if (!peer || peer === socket.clientId || (opening && socket.clientId === undefined)) return { ctx, conn: socket };
  const id = `${ctx.connectionId}${PEER_SESSION_SEPARATOR}${peer}`;
  const peerCtx: Ctx = { ...ctx, connectionId: id };
  const conn = socket.peers?.has(peer) ? await getConnection(ctx, id) : undefined;
  // A client id that is not valid fails in `open` (4103) before any record would name it.
  if (conn || !opening || !CLIENT_ID_PATTERN.test(peer)) return { ctx: peerCtx, conn };
  return { ctx: peerCtx, conn: undefined, establish: () => establishPeer(ctx, socket, id, peer) };
}

async function establishPeer(ctx: Ctx, socket: ConnectionRecord, id: string, clientId: string): Promise<ConnectionRecord> {
  const full = () =>
    new ImError('INVALID_LOGIN', `a connection carries at most ${MAX_CLIENTS_PER_SOCKET} clients; open ${clientId} on another one`);
  const maxPeers = MAX_CLIENTS_PER_SOCKET - 1;
  if (!socket.peers?.has(clientId) && (socket.peers?.size ?? 0) >= maxPeers) throw full();
  const record = await addPeerSession(ctx, socket, id, clientId, maxPeers);
  if (!record) throw full();
  return record;
}
