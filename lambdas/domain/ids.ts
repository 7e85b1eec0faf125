/**
 * Server-assigned identifiers. A stored message's id carries its sequence number after a dot
 * (`<12 random chars>.<seq in base 36>`), so `ack`, `read` and `query … before` find the
 * message by key without a secondary index. Clients treat ids as opaque.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomToken(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
      if (b < 248 && out.length < length) out += ALPHABET[b % 62];
    }
  }
  return out;
}

/** 24 hex characters like a LeanCloud/Mongo ObjectId: creation second, then 8 random bytes. */
export function newConversationId(nowMs: number): string {
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0')
    .slice(-8);
  return seconds + randomBytes(8).toString('hex');
}

export function storedMessageId(seq: number): string {
  return `${randomToken(12)}.${seq.toString(36)}`;
}

export function transientMessageId(): string {
  return randomToken(16);
}

const STORED_ID = /^[A-Za-z0-9]{12}\.([0-9a-z]{1,10})$/;

/** The sequence number inside a stored message id, or undefined for anything else. */
export function seqOfMessageId(id: string): number | undefined {
  const m = STORED_ID.exec(id);
  if (!m) return undefined;
  const seq = parseInt(m[1]!, 36);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}
