/**
 * Request schemas: the one validation approach for every frame (zod). A failed parse becomes
 * 4114 UNPARSEABLE_RAW_MESSAGE with a message naming the field; range rules the protocol gives
 * their own codes (4103, 4109, 4304) are checked by the core after parsing.
 */
// Named imports, not the `z` namespace: the namespace drags every locale into each Lambda
// bundle (~440 KB instead of ~80 KB).
import { array, boolean, enum as oneOf, number, object, record, string, union, unknown, type core, type output, type ZodType } from 'zod';
import { ImError } from './errors';

/** Clients one message may @-mention by id (LeanCloud's bound). */
export const MAX_MENTIONS = 20;

/** Deepest `find` page: LeanCloud's bound, and what keeps skipped reads bounded. */
export const FIND_MAX_SKIP = 1000;

export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_\-.@]{1,64}$/;

/** Keys that could reach a prototype when stored objects are later merged or spread. */
export const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export const requestId = union([
  string().min(1).max(64),
  number()
    .int()
    .refine((n) => Number.isSafeInteger(n) && String(n).length <= 64, 'id out of range'),
]);
export type RequestId = output<typeof requestId>;

export const clientIdSchema = string().regex(CLIENT_ID_PATTERN, 'clientId must be 1-64 characters of [A-Za-z0-9_-.@]');
const cid = string().min(1).max(64);
const messageId = string().min(1).max(64);

/** A JSON object; its size limit is checked by the core (4109, in UTF-8 bytes). */
export const jsonObject = record(string(), unknown());

/** Nesting deeper than this in any frame is refused (nothing in the protocol needs it). */
export const MAX_DEPTH = 16;

/**
 * A high surrogate not followed by a low one, or a low one not preceded by a high one. Without
 * the `u` flag the pattern sees UTF-16 code units, which is what has to be checked.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether a string is well-formed UTF-16 (`String.prototype.isWellFormed`, which the ES2022 lib
 * this project compiles against does not declare). DynamoDB stores strings as UTF-8, where every
 * lone surrogate becomes U+FFFD: two different ill-formed strings would be stored as one, so a
 * `clientMsgId` would de-duplicate a different message and keys would collide.
 */
export function isWellFormedUtf16(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

const ILL_FORMED = 'is not well-formed UTF-16 (it has a lone surrogate)';

/**
 * Runs on the raw parsed frame, before any schema copies it: a copied `__proto__` key would
 * silently become a prototype instead of failing, deep nesting costs every later walk, and a
 * lone surrogate in any key or string would be altered on its way into DynamoDB.
 */
export function unsafeJsonReason(value: unknown): string | undefined {
  const stack: [unknown, number, string][] = [[value, 0, '']];
  while (stack.length > 0) {
    const [v, depth, path] = stack.pop()!;
    const field = path.replace(/^\./, '');
    if (typeof v === 'string') {
      if (!isWellFormedUtf16(v)) return `${field || 'frame'} ${ILL_FORMED}`;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_DEPTH) return `${path || 'frame'} is nested more than ${MAX_DEPTH} levels deep`;
    if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, depth + 1, `${path}[${i}]`]));
    else
      for (const [k, x] of Object.entries(v)) {
        if (FORBIDDEN_KEYS.has(k)) return `key "${k}" is not allowed${field ? ` in ${field}` : ''}`;
        // The key is not quoted back: the reply would carry the lone surrogate.
        if (!isWellFormedUtf16(k)) return `a key${field ? ` in ${field}` : ''} ${ILL_FORMED}`;
        stack.push([x, depth + 1, `${path}.${k}`]);
      }
  }
  return undefined;
}

export const attributesSchema = jsonObject.superRefine((obj, ctx) => {
  for (const k of Object.keys(obj)) {
    if (k.includes('.') || k.startsWith('$') || k.length === 0) {
      ctx.addIssue({ code: 'custom', message: `attribute key "${k}" must be non-empty, without "." or a leading "$"` });
    }
  }
});

const historyBound = (name: string) =>
  object({ messageId: messageId.optional(), timestamp: number().int().nonnegative().optional() }).refine(
    (b) => b.messageId !== undefined || b.timestamp !== undefined,
    `${name} needs messageId or timestamp`,
  );

const signature = object({
  signature: string().max(128),
  timestamp: number().int().nonnegative(),
  nonce: string().min(1).max(128),
});

export const schemas = {
  ping: object({}),
  open: object({
    // clientId is checked by the session core so that every malformed value is 4103.
    clientId: unknown().optional(),
    tag: string().min(1).max(64).optional(),
    deviceId: string().min(1).max(128).optional(),
    deviceToken: string().min(1).max(512).optional(),
    pushPlatform: oneOf(['APNS', 'APNS_SANDBOX']).optional(),
    unreadMode: boolean().optional(),
    reconnect: boolean().optional(),
    signature: signature.optional(),
    // Extension: the previous open's serverTime; messages edited or recalled since then follow.
    changesSince: number().int().nonnegative().optional(),
    // Extension: offline messages in `messages` frames of up to 32 KB instead of one frame each.
    offlineBatch: boolean().optional(),
  }),
  close: object({}),
  create: object({
    name: string().max(256).nullable().optional(),
    // Bounded well above the 500-member limit so that "too many" is 4304, not a parse error.
    members: array(clientIdSchema).max(1000).optional(),
    attributes: attributesSchema.optional(),
    transient: boolean().optional(),
    unique: boolean().optional(),
    signature: signature.optional(),
  }),
  send: object({
    cid,
    data: string(),
    clientMsgId: string().min(1).max(64).optional(),
    transient: boolean().optional(),
    receipt: boolean().optional(),
    pushData: jsonObject.optional(),
    // Extensions: who the message @-mentions.
    mentions: array(clientIdSchema).max(MAX_MENTIONS).optional(),
    mentionAll: boolean().optional(),
  }),
  ack: object({
    cid,
    messageIds: array(messageId).min(1).max(100),
  }),
  query: object({
    cid,
    limit: number().int().min(1).max(1000).default(20),
    before: historyBound('before').optional(),
    // Extensions: with `after`, the page starts right after it and goes forward in time;
    // `type` keeps only typed messages of that `_lctype`.
    after: historyBound('after').optional(),
    type: number().int().optional(),
  }),
  read: object({ cid, messageId: messageId.optional() }),
  join: object({ cid, signature: signature.optional() }),
  quit: object({ cid }),
  invite: object({ cid, members: array(clientIdSchema).min(1).max(100), signature: signature.optional() }),
  kick: object({ cid, members: array(clientIdSchema).min(1).max(100), signature: signature.optional() }),
  mute: object({ cid }),
  unmute: object({ cid }),
  count: object({ cid }),
  // Extensions: the sender changes or takes back a stored message.
  edit: object({ cid, messageId, data: string() }),
  recall: object({ cid, messageId }),
  update: object({
    cid,
    name: string().max(256).nullable().optional(),
    // Top-level keys replace the stored ones; a null value removes the key.
    attributes: attributesSchema.optional(),
  }).refine((u) => u.name !== undefined || u.attributes !== undefined, 'update needs name or attributes'),
  find: object({
    // The where-language has its own strict parser (find.ts) with 4114 for anything unknown.
    where: jsonObject.optional(),
    sort: string().max(256).optional(),
    limit: number().int().min(1).max(100).default(10),
    skip: number().int().min(0).max(FIND_MAX_SKIP).default(0),
    // Extensions: leave out member lists; add each conversation's newest message.
    compact: boolean().optional(),
    lastMessage: boolean().optional(),
  }),
} as const;

/** LeanCloud's online-status query (`session/query`): at most 20 client ids. */
export const onlineQuerySchema = array(clientIdSchema).max(20);

export type Schemas = typeof schemas;
export type Action = keyof Schemas;
export type Request<A extends Action> = output<Schemas[A]>;

function describe(issue: core.$ZodIssue): string {
  const path = issue.path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Parses with the given schema or throws 4114 naming the first offending field. */
export function parseOrThrow<S extends ZodType>(schema: S, input: unknown): output<S> {
  const unsafe = unsafeJsonReason(input);
  if (unsafe) throw new ImError('UNPARSEABLE_RAW_MESSAGE', unsafe);
  const res = schema.safeParse(input);
  if (res.success) return res.data;
  throw new ImError('UNPARSEABLE_RAW_MESSAGE', describe(res.error.issues[0]!));
}

/** UTF-8 size of a JSON value as stored. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}
