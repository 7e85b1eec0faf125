/**
 * Push devices: one SNS platform endpoint per token under the platform's application, stored
 * per client and device in the `devices` table, with a token → owner key so a token that moves
 * to another client leaves the old one.
 */
import { createHash } from 'node:crypto';
import {
  CreatePlatformEndpointCommand,
  DeleteEndpointCommand,
  GetEndpointAttributesCommand,
  SetEndpointAttributesCommand,
} from '@aws-sdk/client-sns';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, setMapEntry } from '../adapters/dynamo';
import type { PushPlatform } from './config';
import { isConditionFailed, applied } from './errors';
import type { Ctx } from './route';

export interface Device {
  token: string;
  platform: PushPlatform;
  endpointArn: string;
  updatedAt: number;
}

export interface Registration {
  deviceToken: string;
  pushPlatform?: PushPlatform;
  deviceId?: string;
}

/** The device's key in the client's map: its deviceId, else derived from the token. */
export function deviceKeyOf(r: Registration): string {
  return r.deviceId ?? `t-${createHash('sha256').update(r.deviceToken).digest('hex').slice(0, 24)}`;
}

const tokenKey = (platform: PushPlatform, token: string) => `pushtoken#${platform}#${createHash('sha256').update(token).digest('hex')}`;

/**
 * CreatePlatformEndpoint is idempotent only for identical attributes; a token registered before
 * with other attributes fails with InvalidParameter naming the existing endpoint, which is then
 * taken over. A disabled endpoint (APNs rejected the token once) is enabled again, since a fresh
 * registration means the app has a valid token.
 */
async function ensureEndpoint(ctx: Ctx, app: string, token: string, clientId: string): Promise<string> {
  const sns = ctx.deps.sns!;
  let arn: string;
  try {
    arn = (await sns.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: app, Token: token, CustomUserData: clientId })))
      .EndpointArn!;
  } catch (err) {
    const m =
      err instanceof Error && err.name === 'InvalidParameterException' ? /Endpoint (arn:\S+) already exists/.exec(err.message) : null;
    if (!m) throw err;
    arn = m[1]!;
  }
  const attrs = (await sns.send(new GetEndpointAttributesCommand({ EndpointArn: arn }))).Attributes ?? {};
  if (attrs.Enabled !== 'true' || attrs.CustomUserData !== clientId || attrs.Token !== token) {
    await sns.send(
      new SetEndpointAttributesCommand({ EndpointArn: arn, Attributes: { Enabled: 'true', CustomUserData: clientId, Token: token } }),
    );
  }
  return arn;
}

async function setDevice(ctx: Ctx, clientId: string, key: string, device: Device): Promise<void> {
  const { db, config } = ctx.deps;
  await setMapEntry(db, config.tables.devices, { clientId }, 'devices', key, device);
}

export async function removeDevice(ctx: Ctx, clientId: string, key: string): Promise<Device | undefined> {
  const { db, config } = ctx.deps;
  try {
    const res = await db.send(
      new UpdateCommand({
        TableName: config.tables.devices,
        Key: { clientId },
        UpdateExpression: 'REMOVE devices.#k',
        ConditionExpression: 'attribute_exists(devices.#k)',
        ExpressionAttributeNames: { '#k': key },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    return (res.Attributes?.devices as Record<string, Device> | undefined)?.[key];
  } catch (err) {
    if (isConditionFailed(err)) return undefined;
    throw err;
  }
}

/** `open` with a deviceToken. Returns the device key, or undefined when push is off for that platform. */
export async function registerDevice(ctx: Ctx, clientId: string, r: Registration): Promise<string | undefined> {
  const { config, db, sns } = ctx.deps;
  const platform = r.pushPlatform ?? 'APNS';
  const app = config.pushPlatforms[platform];
  if (!app || !sns) {
    ctx.log.info('push is not configured for this platform; device not registered', { platform });
    return undefined;
  }
  const key = deviceKeyOf(r);
  const endpointArn = await ensureEndpoint(ctx, app, r.deviceToken, clientId);
  const owner = tokenKey(platform, r.deviceToken);
  const prev = (await db.send(new GetCommand({ TableName: config.tables.keys, Key: { k: owner }, ConsistentRead: true }))).Item;
  if (prev && (prev.clientId !== clientId || prev.deviceKey !== key)) {
    // The token now belongs to this client and device: the old owner must stop getting its pushes.
    await removeDevice(ctx, prev.clientId as string, prev.deviceKey as string);
  }
  await db.send(new PutCommand({ TableName: config.tables.keys, Item: { k: owner, clientId, deviceKey: key } }));
  const replaced = await removeDevice(ctx, clientId, key);
  await setDevice(ctx, clientId, key, { token: r.deviceToken, platform, endpointArn, updatedAt: ctx.now });
  if (replaced && replaced.endpointArn !== endpointArn) await deleteEndpoint(ctx, replaced.endpointArn);
  return key;
}

export async function deleteEndpoint(ctx: Ctx, arn: string): Promise<void> {
  await ctx.deps.sns?.send(new DeleteEndpointCommand({ EndpointArn: arn })).catch((err: unknown) => {
    ctx.log.warn('could not delete SNS endpoint', { err, arn });
  });
}

/** `close` on a connection that registered a device: that device stops getting this client's pushes. */
export async function unregisterDevice(ctx: Ctx, clientId: string, key: string): Promise<void> {
  const { db, config } = ctx.deps;
  const device = await removeDevice(ctx, clientId, key);
  if (!device) return;
  await applied(
    db.send(
      new DeleteCommand({
        TableName: config.tables.keys,
        Key: { k: tokenKey(device.platform, device.token) },
        ConditionExpression: 'clientId = :c AND deviceKey = :d',
        ExpressionAttributeValues: { ':c': clientId, ':d': key },
      }),
    ),
  );
  await deleteEndpoint(ctx, device.endpointArn);
}

/** Devices of many clients: one BatchGetItem per 100. */
export async function devicesOf(ctx: Ctx, clientIds: string[]): Promise<Map<string, Record<string, Device>>> {
  const { db, config } = ctx.deps;
  const items = await batchGetAll(
    db,
    config.tables.devices,
    clientIds.map((clientId) => ({ clientId })),
  );
  return new Map(items.map((i) => [i.clientId as string, (i.devices ?? {}) as Record<string, Device>]));
}
