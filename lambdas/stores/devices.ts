/**
 * Push devices (`devices` table): one item per client, mapping each of its device keys (the
 * deviceId, else one derived from the token) to the token and the platform endpoint publishing
 * to it. Which client a token belongs to is kept in `keys` (keys.ts, token owners).
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, isConditionFailed, setMapEntry } from './dynamo';
import type { Ctx, PushPlatform } from '../domain/context';

export interface Device {
  token: string;
  platform: PushPlatform;
  endpointArn: string;
  updatedAt: number;
}

/** Sets one entry of the client's device map, creating the item on first use. */
export async function setDevice(ctx: Ctx, clientId: string, key: string, device: Device): Promise<void> {
  const { db, config } = ctx.deps;
  await setMapEntry(db, config.tables.devices, { clientId }, 'devices', key, device);
}

/**
 * Removes one device entry; with `only`, just when the entry still has those values, so that a
 * removal decided on an earlier read cannot take out what the client registered since.
 */
export async function removeDevice(
  ctx: Ctx,
  clientId: string,
  key: string,
  only: Partial<Pick<Device, 'token' | 'endpointArn' | 'updatedAt'>> = {},
): Promise<Device | undefined> {
  const { db, config } = ctx.deps;
  const fields = Object.entries(only).filter(([, v]) => v !== undefined);
  try {
    const res = await db.send(
      new UpdateCommand({
        TableName: config.tables.devices,
        Key: { clientId },
        UpdateExpression: 'REMOVE devices.#k',
        ConditionExpression: ['attribute_exists(devices.#k)', ...fields.map((_, i) => `devices.#k.#f${i} = :f${i}`)].join(' AND '),
        ExpressionAttributeNames: { '#k': key, ...Object.fromEntries(fields.map(([f], i) => [`#f${i}`, f])) },
        ...(fields.length > 0 ? { ExpressionAttributeValues: Object.fromEntries(fields.map(([, v], i) => [`:f${i}`, v])) } : {}),
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    return (res.Attributes?.devices as Record<string, Device> | undefined)?.[key];
  } catch (err) {
    if (isConditionFailed(err)) return undefined;
    throw err;
  }
}

/** Devices of many clients: one BatchGetItem per 100; clients with no item are absent. */
export async function devicesOf(ctx: Ctx, clientIds: string[]): Promise<Map<string, Record<string, Device>>> {
  const { db, config } = ctx.deps;
  const items = await batchGetAll(
    db,
    config.tables.devices,
    clientIds.map((clientId) => ({ clientId })),
  );
  return new Map(items.map((i) => [i.clientId as string, (i.devices ?? {}) as Record<string, Device>]));
}
