/**
 * Push devices: one SNS platform endpoint per token under the platform's application, stored
 * per client and device in the `devices` table, with a token → owner key so a token that moves
 * to another client leaves the old one. A token belongs to the client that presented it last
 * (LeanCloud's semantics); see docs/security.md for what keeps the previous owner's pushes off it.
 */
import { createHash } from 'node:crypto';
import { removeDevice, setDevice, type Device } from '../stores/devices';
import { getTokenOwner, releaseTokenOwner, setTokenOwner, tokenOwners, type TokenOwner } from '../stores/keys';
import type { PushPlatform, Ctx } from './context';

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
 * What registering a token as `clientId`'s device `key` does to its previous owner `prev`:
 * `moved` when the token belonged to another client, and the previous owner's entry to remove
 * when the token now lives under another client or device key.
 */
export function tokenHandover(
  prev: TokenOwner | undefined,
  clientId: string,
  key: string,
): { moved: boolean; removePrevious: TokenOwner | undefined } {
  const moved = prev !== undefined && prev.clientId !== clientId;
  return { moved, removePrevious: prev && (moved || prev.deviceKey !== key) ? prev : undefined };
}

/** Whether a device entry's client still owns its token: the owner must name that client and device key. */
export function ownsToken(owner: TokenOwner | undefined, entry: { clientId: string; key: string }): boolean {
  return owner !== undefined && owner.clientId === entry.clientId && owner.deviceKey === entry.key;
}

/** `open` with a deviceToken. Returns the device key, or undefined when push is off for that platform. */
export async function registerDevice(ctx: Ctx, clientId: string, r: Registration): Promise<string | undefined> {
  const { config, push } = ctx.deps;
  const platform = r.pushPlatform ?? 'APNS';
  const app = config.pushPlatforms[platform];
  if (!app || !push) {
    ctx.log.info('push is not configured for this platform; device not registered', { platform });
    return undefined;
  }
  const key = deviceKeyOf(r);
  const owner = tokenKey(platform, r.deviceToken);
  const { moved, removePrevious } = tokenHandover(await getTokenOwner(ctx, owner), clientId, key);
  // Claimed before the endpoint changes hands: from now on the push worker's owner check
  // skips the previous owner's entries for this token.
  await setTokenOwner(ctx, owner, { clientId, deviceKey: key });
  // Only the entry that still holds this token: the previous owner may have re-registered that
  // device with another token since.
  const previous = removePrevious
    ? await removeDevice(ctx, removePrevious.clientId, removePrevious.deviceKey, { token: r.deviceToken })
    : undefined;
  const endpointArn = await push.ensureEndpoint(app, r.deviceToken, clientId, { moved });
  if (moved && previous && previous.endpointArn !== endpointArn) await deleteEndpoint(ctx, previous.endpointArn);
  const replaced = await removeDevice(ctx, clientId, key);
  await setDevice(ctx, clientId, key, { token: r.deviceToken, platform, endpointArn, updatedAt: ctx.now });
  if (replaced && replaced.endpointArn !== endpointArn) await deleteEndpoint(ctx, replaced.endpointArn);
  return key;
}

/** Deletes a platform endpoint no entry names any more; a failure only leaves an unused endpoint behind. */
export async function deleteEndpoint(ctx: Ctx, arn: string): Promise<void> {
  await ctx.deps.push?.deleteEndpoint(arn).catch((err: unknown) => {
    ctx.log.warn('could not delete SNS endpoint', { err, arn });
  });
}

/** `close` on a connection that registered a device: that device stops getting this client's pushes. */
export async function unregisterDevice(ctx: Ctx, clientId: string, key: string): Promise<void> {
  const device = await removeDevice(ctx, clientId, key);
  if (!device) return;
  await releaseTokenOwner(ctx, tokenKey(device.platform, device.token), { clientId, deviceKey: key });
  await deleteEndpoint(ctx, device.endpointArn);
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
  const owners = await tokenOwners(ctx, [...new Set(entries.map((e) => tokenKey(e.device.platform, e.device.token)))]);
  return (e) => ownsToken(owners.get(tokenKey(e.device.platform, e.device.token)), e);
}
