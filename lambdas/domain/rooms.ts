/**
 * Chat rooms (transient conversations, docs/protocol.md §9): occupancy per connection in the `rooms`
 * table, keyed by room; the connection record names its one room. No member list, no
 * membership events, no offline delivery, push, receipts or unread.
 */
import { getConversation } from '../stores/conversations';
import { expiryFrom, setConnectionField } from '../stores/connections';
import { setLastRoom, type LastRoom } from '../stores/presence';
import { deleteOccupant, forEachOccupantPage, putOccupant } from '../stores/rooms';
import { postToTargets } from './fan-out';
import type { ConnectionGateway, PostOutcome } from '../gateways/connection-gateway';
import type { ServerEvent } from '../protocol/events';
import type { Ctx } from './context';
import type { Session } from './session';
import type { WireProtocol } from '../protocol/subprotocols';

/** A client that disconnects is put back into its room if it opens again within this window. */
export const ROOM_REJOIN_WINDOW_MS = 30 * 60 * 1000;

/** One room per connection: the room a connection in `current` leaves by entering `entering`. */
export function roomLeftByEntering(current: string | undefined, entering: string): string | undefined {
  return current !== undefined && current !== entering ? current : undefined;
}

/** Whether a room left by disconnecting (`last`) is still to be re-entered by an open at `now`. */
export function withinRejoinWindow(last: LastRoom, now: number): boolean {
  return now - last.leftAt <= ROOM_REJOIN_WINDOW_MS;
}

/** Puts this connection into `cid`, leaving the room it was in (one room per connection). */
export async function enterRoom(ctx: Ctx, session: Pick<Session, 'clientId' | 'room' | 'protocol'>, cid: string): Promise<void> {
  const left = roomLeftByEntering(session.room, cid);
  if (left !== undefined) await deleteOccupant(ctx, left, ctx.connectionId);
  await putOccupant(ctx, cid, { clientId: session.clientId, protocol: session.protocol }, expiryFrom(ctx));
  await setConnectionField(ctx, 'room', cid);
}

/** `quit` of a room, or `close`: the connection leaves and will not be put back. */
export async function leaveRoom(ctx: Ctx, session: Session): Promise<void> {
  if (!session.room) return;
  await deleteOccupant(ctx, session.room, ctx.connectionId);
  await setConnectionField(ctx, 'room', undefined);
}

/** `$disconnect`: leave the room, remembering it so a reconnect within the window re-enters. */
export async function rememberRoomOnDisconnect(ctx: Ctx, clientId: string | undefined, room: string | undefined): Promise<void> {
  if (!room) return;
  await deleteOccupant(ctx, room, ctx.connectionId);
  if (!clientId) return;
  await setLastRoom(ctx, clientId, { cid: room, leftAt: ctx.now });
}

/**
 * At `open`: the room this client left by disconnecting less than 30 minutes ago (as read with
 * its presence), entered again on this connection. The memory is consumed, so only one
 * connection goes back.
 */
export async function rejoinRecentRoom(ctx: Ctx, clientId: string, last: LastRoom | undefined, protocol?: WireProtocol): Promise<string[]> {
  if (!last) return [];
  await forgetRoom(ctx, clientId);
  if (!withinRejoinWindow(last, ctx.now)) return [];
  const conv = await getConversation(ctx, last.cid);
  if (!conv?.transient) return [];
  await enterRoom(ctx, { clientId, protocol }, last.cid);
  return [last.cid];
}

/** Forgets the room to rejoin (explicit quit or logout). */
export async function forgetRoom(ctx: Ctx, clientId: string): Promise<void> {
  await setLastRoom(ctx, clientId, undefined);
}

/** The gateway, telling `seen` the outcome of every post that went through. */
function observing(gateway: ConnectionGateway, seen: (connectionId: string, outcome: PostOutcome) => void): ConnectionGateway {
  return {
    post: async (connectionId, data) => {
      const outcome = await gateway.post(connectionId, data);
      seen(connectionId, outcome);
      return outcome;
    },
    disconnect: (connectionId) => gateway.disconnect(connectionId),
  };
}

/**
 * Room fan-out: every connection in the room but `except`, one page of occupants at a time,
 * posted like any fan-out (`postToTargets`, which drops a connection that answers 410). Such a
 * connection's occupancy goes too, which is why the posts are observed. Returns how many
 * connections took the event.
 */
export async function sendToRoom(ctx: Ctx, cid: string, event: ServerEvent, opts: { except?: string } = {}): Promise<number> {
  let delivered = 0;
  await forEachOccupantPage(ctx, cid, async (occupants) => {
    const gone: string[] = [];
    const observed: Ctx = {
      ...ctx,
      gateway: observing(ctx.gateway, (connectionId, outcome) => (outcome === 'ok' ? delivered++ : gone.push(connectionId))),
    };
    await postToTargets(
      observed,
      occupants.filter((o) => o.connectionId !== opts.except),
      event,
    );
    await Promise.all(
      gone.map((connectionId) =>
        deleteOccupant(ctx, cid, connectionId).catch((err: unknown) => {
          ctx.log.warn('could not remove gone room occupant', { err, target: connectionId, cid });
        }),
      ),
    );
  });
  return delivered;
}

/** Connections in the room now: a plain read of the table. */
export { countOccupants } from '../stores/rooms';
