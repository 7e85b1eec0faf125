/**
 * Signatures (docs/protocol.md §12): HMAC-SHA1 with the app master key over a colon-joined string,
 * lowercase hex, compared case-insensitively in constant time; timestamps within 6 h; each
 * (clientId, nonce) accepted once.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ImError, type ErrorName } from '../protocol/errors';
import { claimKey } from '../stores/keys';
import type { Ctx } from './context';

export type SignedAction = 'open' | 'create' | 'join' | 'invite' | 'kick';

export interface Signature {
  signature: string;
  timestamp: number;
  nonce: string;
}

export const SIGNATURE_WINDOW_MS = 6 * 3600 * 1000;

/** The signed string for an action (the application server computes the same). */
export function signedString(
  appId: string,
  action: SignedAction,
  clientId: string,
  opts: { cid?: string; members?: string[]; timestamp: number; nonce: string },
): string {
  const members = [...(opts.members ?? [])].sort().join(':');
  const { timestamp, nonce } = opts;
  switch (action) {
    case 'open':
      return `${appId}:${clientId}::${timestamp}:${nonce}`;
    case 'create':
      return `${appId}:${clientId}:${members}:${timestamp}:${nonce}`;
    case 'join':
      return `${appId}:${clientId}:${opts.cid}::${timestamp}:${nonce}:join`;
    case 'invite':
    case 'kick':
      return `${appId}:${clientId}:${opts.cid}:${members}:${timestamp}:${nonce}:${action}`;
  }
}

export function sign(masterKey: string, text: string): string {
  return createHmac('sha1', masterKey).update(text, 'utf8').digest('hex');
}

/** What an application server hands its client for one signed action. */
export function signAction(
  action: SignedAction,
  opts: { appId: string; masterKey: string; clientId: string; cid?: string; members?: string[]; timestamp?: number; nonce?: string },
): Signature {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = opts.nonce ?? randomBytes(12).toString('base64url');
  return {
    signature: sign(
      opts.masterKey,
      signedString(opts.appId, action, opts.clientId, { cid: opts.cid, members: opts.members, timestamp, nonce }),
    ),
    timestamp,
    nonce,
  };
}

/** Seconds, or milliseconds when ≥ 10^12. */
export const timestampMs = (t: number) => (t >= 1e12 ? t : t * 1000);

/**
 * Throws 4102 (open) or 4302 (conversation actions) unless the signature is valid, fresh and
 * unused. A no-op when IM_SIGNATURE_REQUIRED is not true.
 */
export async function verifySignature(
  ctx: Ctx,
  action: SignedAction,
  clientId: string,
  sig: Signature | undefined,
  opts: { cid?: string; members?: string[] } = {},
): Promise<void> {
  const { config } = ctx.deps;
  if (!config.signatureRequired) return;
  const name: ErrorName = action === 'open' ? 'SIGNATURE_FAILED' : 'CONVERSATION_SIGNATURE_FAILED';
  if (!sig) throw new ImError(name, `${action} requires a signature`);
  const keys = await ctx.deps.masterKeys();
  if (keys.length === 0) {
    ctx.log.error('IM_SIGNATURE_REQUIRED=true but no master key is configured: refusing every signed action');
    throw new ImError(name, 'signature verification is not configured on this server');
  }
  if (Math.abs(ctx.now - timestampMs(sig.timestamp)) > SIGNATURE_WINDOW_MS)
    throw new ImError(name, 'signature timestamp is outside the 6 hour window');
  const signed = { ...opts, timestamp: sig.timestamp, nonce: sig.nonce };
  const texts = [signedString(config.appId, action, clientId, signed)];
  // LeanCloud's JS SDK signs a join as an invite of the client itself.
  if (action === 'join') texts.push(signedString(config.appId, 'invite', clientId, { ...signed, members: [clientId] }));
  const given = Buffer.from(sig.signature.toLowerCase(), 'utf8');
  const matches = keys.some((key) =>
    texts.some((text) => {
      const expected = Buffer.from(sign(key, text), 'utf8');
      return given.length === expected.length && timingSafeEqual(given, expected);
    }),
  );
  if (!matches) throw new ImError(name, 'signature does not match');
  // Remembered a little longer than the window, so a nonce can never be replayed inside it.
  const fresh = await claimKey(ctx, `nonce#${clientId}#${sig.nonce}`, {}, { ttlSeconds: (2 * SIGNATURE_WINDOW_MS) / 1000 });
  if (!fresh) throw new ImError(name, 'signature nonce was already used');
}
