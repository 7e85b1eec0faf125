/** Reading fields of decoded LeanCloud commands. */
import { ImError } from '../protocol/errors';
import { unsafeJsonReason } from '../protocol/schemas';

export type Sub = Record<string, unknown>;

/** A JsonObjectMessage's JSON (`{data: "…"}`), or 4114. */
export function jsonOf(message: unknown, what: string): Record<string, unknown> {
  const data = (message as { data?: unknown } | undefined)?.data;
  if (data === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(data)) as unknown;
  } catch {
    // reported below
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ImError('UNPARSEABLE_RAW_MESSAGE', `${what} must be a JSON object`);
  // The same guard native frames pass before anything reads them.
  const unsafe = unsafeJsonReason(parsed);
  if (unsafe) throw new ImError('UNPARSEABLE_RAW_MESSAGE', `${what}: ${unsafe}`);
  return parsed as Record<string, unknown>;
}

/** The signature a session or conv command carries in `s`, `t`, `n`, if any. */
export function signatureOf(sub: Sub): { signature: string; timestamp: number; nonce: string } | undefined {
  return typeof sub.s === 'string' && sub.t !== undefined && typeof sub.n === 'string'
    ? { signature: sub.s, timestamp: Number(sub.t), nonce: sub.n }
    : undefined;
}
