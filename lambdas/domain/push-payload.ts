/** APNs payloads for offline push (docs/protocol.md §11), within APNs' 4 KB limit. */

export const APNS_MAX_BYTES = 4096;

/** pushData keys that belong inside `aps` (Apple's dictionary) rather than beside it. */
const APS_KEYS = new Set([
  'sound',
  'category',
  'content-available',
  'mutable-content',
  'thread-id',
  'interruption-level',
  'relevance-score',
]);
/** Keys the server sets; pushData cannot override them. */
const RESERVED = new Set(['aps', 'cid', 'messageId', 'alert', 'badge']);

export interface PushContent {
  alert: string;
  badge: number;
  cid: string;
  messageId: string;
  /** The sender's `pushData`, if any: `alert` replaces the alert, APNs keys go into `aps`, the rest is merged. */
  pushData?: Record<string, unknown>;
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');

/** `text`, or its longest prefix (whole code points) plus an ellipsis, whose JSON string form fits in `maxBytes`. */
function truncate(text: string, maxBytes: number): string {
  if (bytes(text) <= maxBytes) return text;
  const chars = Array.from(text);
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (bytes(chars.slice(0, mid).join('') + '…') <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return lo === 0 ? '' : chars.slice(0, lo).join('') + '…';
}

export function buildApnsPayload(c: PushContent): Record<string, unknown> {
  const aps: Record<string, unknown> = { alert: c.alert, badge: c.badge, sound: 'default' };
  const extras: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.pushData ?? {})) {
    if (RESERVED.has(k)) continue;
    if (APS_KEYS.has(k)) aps[k] = v;
    else extras[k] = v;
  }
  let payload: Record<string, unknown> = { ...extras, aps, cid: c.cid, messageId: c.messageId };
  if (bytes(payload) <= APNS_MAX_BYTES) return payload;
  // Too big: shorten the alert first, never the ids.
  const withoutAlert = bytes({ ...payload, aps: { ...aps, alert: '' } });
  const room = APNS_MAX_BYTES - withoutAlert + 2; // the empty alert's "" is already counted
  if (room > 2) {
    payload = { ...payload, aps: { ...aps, alert: truncate(c.alert, room) } };
    if (bytes(payload) <= APNS_MAX_BYTES) return payload;
  }
  // Custom fields alone exceed the limit: drop them, keep a (shortened) alert and the ids.
  const bare = { aps: { ...aps, alert: '' }, cid: c.cid, messageId: c.messageId };
  return { ...bare, aps: { ...aps, alert: truncate(c.alert, APNS_MAX_BYTES - bytes(bare) + 2) } };
}

/** The alert text: `pushData.alert` when the sender gave one, else the configured template. */
export function alertFor(pushData: Record<string, unknown> | undefined, template: string): string {
  return typeof pushData?.alert === 'string' ? pushData.alert : template;
}

/** The SNS `Message` for `MessageStructure: json`: a default text plus the platform's payload. */
export function snsMessage(platform: 'APNS' | 'APNS_SANDBOX', payload: Record<string, unknown>): string {
  const aps = payload.aps as { alert: string };
  return JSON.stringify({ default: aps.alert, [platform]: JSON.stringify(payload) });
}
