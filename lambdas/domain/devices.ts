/**
 * Push devices: one SNS platform endpoint per token under the platform's application, stored
 * per client and device in the `devices` table, with a token → owner key so a token that moves
 * to another client leaves the old one. A token belongs to the client that presented it last
 * (LeanCloud's semantics); see docs/security.md for what keeps the previous owner's pushes off it.
 */
import { createHash } from 'node:crypto';
import {
  CreatePlatformEndpointCommand,
  DeleteEndpointCommand,
  GetEndpointAttributesCommand,
  SetEndpointAttributesCommand,
} from '@aws-sdk/client-sns';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, setMapEntry, isConditionFailed, applied } from '../stores/dynamo';
import type { PushPlatform, Ctx } from './context';

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

/** The `keys` item naming which client (and which of its devices) a token belongs to. */
interface TokenOwner {
  clientId: string;
  deviceKey: string;
}

/**
 * CreatePlatformEndpoint is idempotent only for identical attributes; a token registered before
 * with other attributes fails with InvalidParameter naming the existing endpoint, which is then
 * taken over. A disabled endpoint (APNs rejected the token once) is enabled again, since a fresh
 * registration means the app has a valid token.
 *
 * `moved`: the token belonged to another client until now. Its endpoint is then deleted and a
 * new one created instead of being taken over: the previous owner's device entries — and any
 * push worker that read them before the move — hold the old endpoint's ARN, and a publish to it
 * must fail (NotFound, after which the worker drops that entry) rather than reach the phone's
 * new owner. The local SNS always hands out a new ARN; on AWS that is not documented, which is
 * why the push worker also checks the token's owner before publishing.
 */
async function ensureEndpoint(ctx: Ctx, app: string, token: string, clientId: string, moved: boolean): Promise<string> {
  const sns = ctx.deps.sns!;
  const create = () => sns.send(new CreatePlatformEndpointCommand({ PlatformApplicationArn: app, Token: token, CustomUserData: clientId }));
  let arn: string;
  try {
    arn = (await create()).EndpointArn!;
  } catch (err) {
    const m =
      err instanceof Error && err.name === 'InvalidParameterException' ? /Endpoint (arn:\S+) already exists/.exec(err.message) : null;
    if (!m) throw err;
    arn = m[1]!;
  }
  const attrs = (await sns.send(new GetEndpointAttributesCommand({ EndpointArn: arn }))).Attributes ?? {};
  if (moved && attrs.CustomUserData !== clientId) {
    // Failures propagate: the registration fails (the session works without push) rather
    // than hand the previous owner's endpoint over.
    await sns.send(new DeleteEndpointCommand({ EndpointArn: arn }));
    return (await create()).EndpointArn!;
  }
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
  const owner = tokenKey(platform, r.deviceToken);
  const prev = (await db.send(new GetCommand({ TableName: config.tables.keys, Key: { k: owner }, ConsistentRead: true }))).Item as
    TokenOwner | undefined;
  const moved = prev !== undefined && prev.clientId !== clientId;
  // Claimed before the endpoint changes hands: from now on the push worker's owner check
  // skips the previous owner's entries for this token.
  await db.send(new PutCommand({ TableName: config.tables.keys, Item: { k: owner, clientId, deviceKey: key } }));
  // Only the entry that still holds this token: the previous owner may have re-registered that
  // device with another token since.
  const previous =
    prev && (moved || prev.deviceKey !== key)
      ? await removeDevice(ctx, prev.clientId, prev.deviceKey, { token: r.deviceToken })
      : undefined;
  const endpointArn = await ensureEndpoint(ctx, app, r.deviceToken, clientId, moved);
  if (moved && previous && previous.endpointArn !== endpointArn) await deleteEndpoint(ctx, previous.endpointArn);
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

/** One entry of a client's device map. */
export interface DeviceEntry {
  clientId: string;
  key: string;
  device: Device;
}

/**
 * Which of these entries their client still owns: the token's owner key must name that client
 * and device key. An entry the token has moved away from (or one a logout left behind) must not
 * be published to, since its endpoint may reach someone else's phone now. The owners are read
 * strongly consistent (one BatchGetItem per 100), so a move that has finished is seen.
 */
export async function ownedDevices(ctx: Ctx, entries: DeviceEntry[]): Promise<(e: DeviceEntry) => boolean> {
  const { db, config } = ctx.deps;
  const keys = [...new Set(entries.map((e) => tokenKey(e.device.platform, e.device.token)))];
  const items = await batchGetAll(
    db,
    config.tables.keys,
    keys.map((k) => ({ k })),
    { consistent: true },
  );
  const owners = new Map(
    items.map((i): [string, TokenOwner] => [i.k as string, { clientId: i.clientId as string, deviceKey: i.deviceKey as string }]),
  );
  return ({ clientId, key, device }) => {
    const o = owners.get(tokenKey(device.platform, device.token));
    return o !== undefined && o.clientId === clientId && o.deviceKey === key;
  };
}
