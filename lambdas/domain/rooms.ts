/**
 * Chat rooms (transient conversations, PROTOCOL.md §9): occupancy per connection in the `rooms`
 * table, keyed by room; the connection record names its one room. No member list, no
 * membership events, no offline delivery, push, receipts or unread.
 */
import { DeleteCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Item, applied } from '../stores/dynamo';
import { mapLimit } from './concurrency';
import { getConversation } from '../stores/conversations';
import { dropDeadConnection, framer, type Target } from './fan-out';
import type { ServerEvent } from '../protocol/events';
import type { Ctx } from './context';
import type { WireProtocol } from '../protocol/subprotocols';
import { expiryFrom, setConnectionField } from '../stores/connections';
import type { LastRoom } from '../stores/presence';
import type { Session } from './session';

/** A client that disconnects is put back into its room if it opens again within this window. */
export const ROOM_REJOIN_WINDOW_MS = 30 * 60 * 1000;
const POST_CONCURRENCY = 32;

/** Puts this connection into `cid`, leaving the room it was in (one room per connection). */
export async function enterRoom(ctx: Ctx, session: Pick<Session, 'clientId' | 'room' | 'protocol'>, cid: string): Promise<void> {
  const { db, config } = ctx.deps;
  if (session.room && session.room !== cid) await removeOccupant(ctx, session.room, ctx.connectionId);
  await db.send(
    new PutCommand({
      TableName: config.tables.rooms,
      Item: {
        cid,
        connectionId: ctx.connectionId,
        clientId: session.clientId,
        joinedAt: ctx.now,
        expiresAt: expiryFrom(ctx),
        ...(session.protocol ? { protocol: session.protocol } : {}),
      },
    }),
  );
  await setConnectionField(ctx, 'room', cid);
}

async function removeOccupant(ctx: Ctx, cid: string, connectionId: string): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(new DeleteCommand({ TableName: config.tables.rooms, Key: { cid, connectionId } }));
}

/** `quit` of a room, or `close`: the connection leaves and will not be put back. */
export async function leaveRoom(ctx: Ctx, session: Session): Promise<void> {
  if (!session.room) return;
  const { db, config } = ctx.deps;
  await removeOccupant(ctx, session.room, ctx.connectionId);
  await applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.connections,
        Key: { connectionId: ctx.connectionId },
        UpdateExpression: 'REMOVE room',
        ConditionExpression: 'attribute_exists(connectionId)',
      }),
    ),
  );
}

/** `$disconnect`: leave the room, remembering it so a reconnect within the window re-enters. */
export async function rememberRoomOnDisconnect(ctx: Ctx, clientId: string | undefined, room: string | undefined): Promise<void> {
  if (!room) return;
  await removeOccupant(ctx, room, ctx.connectionId);
  if (!clientId) return;
  const { db, config } = ctx.deps;
  await applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.presence,
        Key: { clientId },
        UpdateExpression: 'SET lastRoom = :r',
        ConditionExpression: 'attribute_exists(clientId)',
        ExpressionAttributeValues: { ':r': { cid: room, leftAt: ctx.now } },
      }),
    ),
  );
}

/**
 * At `open`: the room this client left by disconnecting less than 30 minutes ago (as read with
 * its presence), entered again on this connection. The memory is consumed, so only one
 * connection goes back.
 */
export async function rejoinRecentRoom(ctx: Ctx, clientId: string, last: LastRoom | undefined, protocol?: WireProtocol): Promise<string[]> {
  if (!last) return [];
  await forgetRoom(ctx, clientId);
  if (ctx.now - last.leftAt > ROOM_REJOIN_WINDOW_MS) return [];
  const conv = await getConversation(ctx, last.cid);
  if (!conv?.transient) return [];
  await enterRoom(ctx, { clientId, protocol }, last.cid);
  return [last.cid];
}

/** Forgets the room to rejoin (explicit quit or logout). */
export async function forgetRoom(ctx: Ctx, clientId: string): Promise<void> {
  const { db, config } = ctx.deps;
  await applied(
    db.send(
      new UpdateCommand({
        TableName: config.tables.presence,
        Key: { clientId },
        UpdateExpression: 'REMOVE lastRoom',
        ConditionExpression: 'attribute_exists(clientId)',
      }),
    ),
  );
}

/** Live occupants, one Query page at a time (expired entries skipped). */
async function forEachOccupantPage(ctx: Ctx, cid: string, fn: (targets: Target[]) => Promise<void>): Promise<void> {
  const { db, config } = ctx.deps;
  const nowSeconds = Math.floor(ctx.now / 1000);
  let start: Item | undefined;
  do {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.rooms,
        KeyConditionExpression: 'cid = :cid',
        ExpressionAttributeValues: { ':cid': cid },
        ProjectionExpression: 'connectionId, clientId, expiresAt, protocol',
        ExclusiveStartKey: start,
      }),
    );
    const targets = (res.Items ?? [])
      .filter((i) => typeof i.expiresAt === 'number' && i.expiresAt > nowSeconds)
      .map((i) => ({
        connectionId: i.connectionId as string,
        clientId: i.clientId as string,
        ...(i.protocol ? { protocol: i.protocol as WireProtocol } : {}),
      }));
    await fn(targets);
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start);
}

/** Room fan-out: every connection in the room but `except`; a 410 drops the connection and its occupancy. */
export async function sendToRoom(ctx: Ctx, cid: string, event: ServerEvent, opts: { except?: string } = {}): Promise<number> {
  const frameFor = framer(ctx, event);
  let delivered = 0;
  await forEachOccupantPage(ctx, cid, async (targets) => {
    await mapLimit(
      targets.filter((t) => t.connectionId !== opts.except),
      POST_CONCURRENCY,
      async (t) => {
        try {
          const frame = frameFor(t);
          if (frame === undefined) return;
          if ((await ctx.gateway.post(t.connectionId, frame)) === 'ok') delivered++;
          else await Promise.all([dropDeadConnection(ctx, t), removeOccupant(ctx, cid, t.connectionId)]);
        } catch (err) {
          ctx.log.warn('post to room occupant failed', { err, target: t.connectionId, cid });
        }
      },
    );
  });
  return delivered;
}

/** Connections in the room now. */
export async function countOccupants(ctx: Ctx, cid: string): Promise<number> {
  const { db, config } = ctx.deps;
  let count = 0;
  let start: Item | undefined;
  do {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.rooms,
        KeyConditionExpression: 'cid = :cid',
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':cid': cid, ':now': Math.floor(ctx.now / 1000) },
        Select: 'COUNT',
        ExclusiveStartKey: start,
      }),
    );
    count += res.Count ?? 0;
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start);
  return count;
}
