/**
 * Chat room occupancy (`rooms` table): one item per connection in a room, keyed by room and
 * connection, expiring with the connection. The connection record names its one room
 * (connections.ts), so `close` and `$disconnect` know which occupancy to remove.
 */
import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { countAll, epochSeconds, type Item } from './dynamo';
import type { Ctx } from '../domain/context';
import type { WireProtocol } from '../protocol/subprotocols';

/** A connection in a room, as fan-out addresses it. */
export interface RoomOccupant {
  connectionId: string;
  clientId: string;
  /** Set for connections that do not speak the native protocol. */
  protocol?: WireProtocol;
}

/** Puts this connection into `cid`; `expiresAt` is the connection's (epoch seconds). */
export async function putOccupant(
  ctx: Ctx,
  cid: string,
  occupant: { clientId: string; protocol?: WireProtocol },
  expiresAt: number,
): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(
    new PutCommand({
      TableName: config.tables.rooms,
      Item: {
        cid,
        connectionId: ctx.connectionId,
        clientId: occupant.clientId,
        joinedAt: ctx.now,
        expiresAt,
        ...(occupant.protocol ? { protocol: occupant.protocol } : {}),
      },
    }),
  );
}

export async function deleteOccupant(ctx: Ctx, cid: string, connectionId: string): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(new DeleteCommand({ TableName: config.tables.rooms, Key: { cid, connectionId } }));
}

/**
 * Live occupants, one Query page at a time (expired entries skipped: TTL deletion lags), so a
 * large room is posted to page by page instead of being read whole first.
 */
export async function forEachOccupantPage(ctx: Ctx, cid: string, fn: (occupants: RoomOccupant[]) => Promise<void>): Promise<void> {
  const { db, config } = ctx.deps;
  const now = epochSeconds(ctx.now);
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
    const occupants = (res.Items ?? [])
      .filter((i) => typeof i.expiresAt === 'number' && i.expiresAt > now)
      .map((i) => ({
        connectionId: i.connectionId as string,
        clientId: i.clientId as string,
        ...(i.protocol ? { protocol: i.protocol as WireProtocol } : {}),
      }));
    await fn(occupants);
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start);
}

/** Connections in the room now (expired entries not counted). */
export async function countOccupants(ctx: Ctx, cid: string): Promise<number> {
  const { db, config } = ctx.deps;
  return countAll(db, {
    TableName: config.tables.rooms,
    KeyConditionExpression: 'cid = :cid',
    FilterExpression: 'expiresAt > :now',
    ExpressionAttributeValues: { ':cid': cid, ':now': epochSeconds(ctx.now) },
  });
}
