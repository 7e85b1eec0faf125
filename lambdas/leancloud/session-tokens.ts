/**
 * LeanCloud session tokens (`st`): handed out with `session/opened` and `session/refreshed`, they
 * let the SDK's automatic reconnect re-open its session without a new signature. Only a SHA-256
 * of each token is stored (in `keys`, expiring with the token), so a table read yields nothing
 * that can log in.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ImError } from '../protocol/errors';
import { claimKey, deleteKey, getKey } from '../stores/keys';
import type { Ctx } from '../domain/context';
import { setConnectionField } from '../stores/connections';

/** How long the SDK may reuse a token (its `stTtl`, seconds). */
export const SESSION_TOKEN_TTL_SECONDS = 24 * 3600;

const keyOf = (token: string) => `st#${createHash('sha256').update(token, 'utf8').digest('hex')}`;

/** A new token for `clientId`, remembered on this connection so that `session/close` revokes it. */
export async function issueSessionToken(ctx: Ctx, clientId: string): Promise<{ st: string; stTtl: number }> {
  const st = randomBytes(24).toString('base64url');
  const key = keyOf(st);
  await claimKey(ctx, key, { clientId }, { ttlSeconds: SESSION_TOKEN_TTL_SECONDS });
  await setConnectionField(ctx, 'sessionTokenKey', key);
  return { st, stTtl: SESSION_TOKEN_TTL_SECONDS };
}

/** `token` with the seconds it has left, if it is a live token of `clientId`. */
export async function liveSessionToken(ctx: Ctx, clientId: string, token: string): Promise<{ st: string; stTtl: number } | undefined> {
  const item = await getKey(ctx, keyOf(token));
  if (item?.clientId !== clientId || typeof item.expiresAt !== 'number') return undefined;
  return { st: token, stTtl: Math.max(1, item.expiresAt - Math.floor(ctx.now / 1000)) };
}

/**
 * 4112 unless `token` is a live token of `clientId` (the SDK then opens again without it).
 * Returns the token with the seconds it has left, to be handed back unchanged.
 */
export async function requireSessionToken(ctx: Ctx, clientId: string, token: string): Promise<{ st: string; stTtl: number }> {
  const live = await liveSessionToken(ctx, clientId, token);
  if (!live) throw new ImError('SESSION_TOKEN_EXPIRED', 'the session token is unknown or expired; open the session again');
  return live;
}

/** Remembers a presented token on this connection, so that its `session/close` revokes it. */
export async function bindSessionToken(ctx: Ctx, token: string): Promise<void> {
  await setConnectionField(ctx, 'sessionTokenKey', keyOf(token));
}

/** Revokes a token by the key `issueSessionToken` stored on the connection. */
export async function revokeSessionTokenKey(ctx: Ctx, key: string | undefined): Promise<void> {
  if (key?.startsWith('st#')) await deleteKey(ctx, key);
}

export async function revokeSessionToken(ctx: Ctx, token: string): Promise<void> {
  await deleteKey(ctx, keyOf(token));
}
