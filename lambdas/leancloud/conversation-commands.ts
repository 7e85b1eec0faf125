/**
 * LeanCloud `conv` commands → the core's conversation functions: start (create), query (find),
 * add/remove (join, quit, invite, kick), update, count, mute/unmute and max_read (receipt points).
 */
import { createConversation } from '../domain/conversations';
import { updateConversation, type AttributeChange } from '../domain/conversation-update';
import type { ConversationView } from '../protocol/views';
import { ImError } from '../protocol/errors';
import { findConversations } from '../domain/find';
import { FIND_MAX_LIST } from '../domain/find-query';
import {
  countConversation,
  inviteMembers,
  joinConversation,
  kickMembers,
  muteConversation,
  quitConversation,
  type FailedTarget,
} from '../domain/membership';
import { receiptPoints } from '../domain/receipts';
import type { Ctx } from '../domain/context';
import { FIND_MAX_SKIP, parseOrThrow, schemas } from '../protocol/schemas';
import type { Session } from '../domain/session';
import type { LcCommand } from './codec';
import { jsonOf, signatureOf, type Sub } from './fields';

/** The conversation a `conv` command names, validated as a native `cid` (4114 otherwise). */
function cidOf(command: LcCommand): string {
  return parseOrThrow(schemas.count, { cid: ((command.convMessage ?? {}) as Sub).cid }).cid;
}

/**
 * `conv/start` → `create`. The SDK puts the name and custom attributes in one JSON object, and
 * its member list includes the creator (which is also what it signs).
 */
export async function start(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
  const conv = (command.convMessage ?? {}) as Sub;
  if (conv.tempConv === true) throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'temporary conversations are not supported by this server');
  const { name, ...attributes } = jsonOf(conv.attr, 'attr');
  const signature = signatureOf(conv);
  const req = parseOrThrow(schemas.create, {
    members: (conv.m as string[] | undefined) ?? [],
    ...(typeof name === 'string' ? { name } : {}),
    attributes,
    transient: conv.transient === true,
    unique: conv.unique === true,
    ...(signature ? { signature } : {}),
  });
  const { conversation } = await createConversation(ctx, req, session);
  return { cmd: 'conv', op: 'started', convMessage: { cid: conversation.cid, cdate: new Date(conversation.createdAt).toISOString() } };
}

/** A conversation as LeanCloud's `_Conversation` row, which the SDK turns into its objects. */
export function conversationRow(c: ConversationView, me: string): Record<string, unknown> {
  return {
    ...c.attributes,
    objectId: c.cid,
    c: c.creator,
    ...(c.members ? { m: c.members } : {}),
    tr: c.transient,
    unique: c.unique,
    mu: c.muted ? [me] : [],
    ...(c.name !== null ? { name: c.name } : {}),
    ...(c.lastMessageAt !== null ? { lm: { __type: 'Date', iso: new Date(c.lastMessageAt).toISOString() } } : {}),
    ...(c.lastMessage
      ? {
          msg: c.lastMessage.data,
          msg_from: c.lastMessage.from,
          msg_mid: c.lastMessage.id,
          msg_timestamp: c.lastMessage.timestamp,
          ...(c.lastMessage.updatedAt !== undefined ? { patch_timestamp: c.lastMessage.updatedAt } : {}),
        }
      : {}),
    createdAt: new Date(c.createdAt).toISOString(),
    updatedAt: new Date(c.updatedAt).toISOString(),
  };
}

/** `_Conversation` columns an update may not write: they are the conversation's own fields. */
const READ_ONLY_COLUMNS = new Set(['objectId', 'c', 'm', 'tr', 'mu', 'lm', 'sys', 'unique', 'uniqueId', 'createdAt', 'updatedAt']);

/**
 * `conv/update` → `update`. Keys of the `attr` JSON are `_Conversation` columns: `name`, or a
 * custom attribute, dotted to reach into objects (`attr.color`); `{"__op": "Delete"}` removes one.
 */
export async function update(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
  const conv = (command.convMessage ?? {}) as Sub;
  const attr = jsonOf(conv.attr, 'attr');
  const isDelete = (v: unknown) => typeof v === 'object' && v !== null && (v as Sub).__op === 'Delete';
  let name: string | null | undefined;
  const changes: AttributeChange[] = [];
  for (const [key, value] of Object.entries(attr)) {
    const path = key.split('.');
    if (READ_ONLY_COLUMNS.has(path[0]!)) throw new ImError('UNPARSEABLE_RAW_MESSAGE', `${path[0]} cannot be updated`);
    if (key === 'name') {
      if (!isDelete(value) && value !== null && typeof value !== 'string')
        throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'name must be a string');
      name = typeof value === 'string' ? parseOrThrow(schemas.update.shape.name, value) : null;
    } else changes.push({ path, value: isDelete(value) ? undefined : value });
  }
  const { conversation } = await updateConversation(
    ctx,
    { cid: cidOf(command), ...(name !== undefined ? { name } : {}), changes },
    session,
  );
  return { cmd: 'conv', op: 'updated', convMessage: { cid: conversation.cid, udate: new Date(conversation.updatedAt).toISOString() } };
}

/**
 * `conv/max_read`: the newest delivered and read timestamps among the other members (with
 * `queryAllMembers`, per member too). Unknown points are left out, as the SDK expects.
 */
export async function maxRead(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
  const conv = (command.convMessage ?? {}) as Sub;
  const points = await receiptPoints(ctx, cidOf(command), session);
  const newest = (xs: (number | null)[]) => {
    const known = xs.filter((x): x is number => x !== null);
    return known.length > 0 ? Math.max(...known) : undefined;
  };
  const ack = newest(points.map((p) => p.deliveredAt));
  const read = newest(points.map((p) => p.readAt));
  return {
    cmd: 'conv',
    op: 'max_read',
    convMessage: {
      ...(ack !== undefined ? { maxAckTimestamp: ack } : {}),
      ...(read !== undefined ? { maxReadTimestamp: read } : {}),
      ...(conv.queryAllMembers === true
        ? {
            maxReadTuples: points.map((p) => ({
              pid: p.clientId,
              ...(p.deliveredAt !== null ? { maxAckTimestamp: p.deliveredAt } : {}),
              ...(p.readAt !== null ? { maxReadTimestamp: p.readAt } : {}),
            })),
          }
        : {}),
    },
  };
}

/** The ids of a where that is only `{objectId: {$in: [...]}}`, else undefined. */
export function idLookup(where: Record<string, unknown> | undefined): string[] | undefined {
  const keys = Object.keys(where ?? {});
  const cond = where?.objectId as Record<string, unknown> | undefined;
  if (keys.length !== 1 || typeof cond !== 'object' || cond === null || Object.keys(cond).length !== 1) return undefined;
  const list = cond.$in;
  return Array.isArray(list) && list.every((x) => typeof x === 'string') ? [...new Set(list as string[])] : undefined;
}

/** Most conversations one `conv/query` returns (LeanCloud's own maximum; the SDK asks for 999). */
const QUERY_MAX_RESULTS = 1000;

/**
 * `conv/query` → `find`; results as a JSON array of `_Conversation` rows. A limit above `find`'s
 * page of 100 (the SDK's id lookups ask for 999) is served page by page.
 */
export async function query(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
  const conv = (command.convMessage ?? {}) as Sub;
  const wanted = typeof conv.limit === 'number' ? Math.min(QUERY_MAX_RESULTS, Math.max(1, conv.limit)) : 10;
  const first = parseOrThrow(schemas.find, {
    where: jsonOf(conv.where, 'where'),
    ...(typeof conv.sort === 'string' && conv.sort ? { sort: conv.sort } : {}),
    limit: Math.min(100, wanted),
    ...(typeof conv.skip === 'number' ? { skip: conv.skip } : {}),
    // flag bits: 1 = compact (no member lists), 2 = with each conversation's last message.
    compact: typeof conv.flag === 'number' && (conv.flag & 1) !== 0,
    lastMessage: typeof conv.flag === 'number' && (conv.flag & 2) !== 0,
  });
  const rows: Record<string, unknown>[] = [];
  const row = (c: ConversationView) => conversationRow(c, session.clientId);
  // The SDK's lookup by ids ({objectId: {$in: [...]}}) may name more ids than one `$in` takes.
  const ids = idLookup(first.where);
  if (ids && ids.length > FIND_MAX_LIST) {
    for (let i = 0; i < ids.length && rows.length < wanted; i += FIND_MAX_LIST) {
      const where = { objectId: { $in: ids.slice(i, i + FIND_MAX_LIST) } };
      const { conversations } = await findConversations(ctx, parseOrThrow(schemas.find, { ...first, where, skip: 0, limit: 100 }), session);
      rows.push(...conversations.map(row));
    }
    return { cmd: 'conv', op: 'results', convMessage: { results: { data: JSON.stringify(rows.slice(0, wanted)) } } };
  }
  for (let skip = first.skip; rows.length < wanted && skip <= FIND_MAX_SKIP; skip += first.limit) {
    const limit = Math.min(first.limit, wanted - rows.length);
    const { conversations } = await findConversations(ctx, parseOrThrow(schemas.find, { ...first, skip, limit }), session);
    rows.push(...conversations.map(row));
    if (conversations.length < limit) break;
  }
  return { cmd: 'conv', op: 'results', convMessage: { results: { data: JSON.stringify(rows) } } };
}

/**
 * `conv/add` / `conv/remove`: with only the caller in `m` they are `join` / `quit` (how the SDK
 * joins and quits), otherwise `invite` / `kick`. Failures per client become `failedPids`.
 */
export async function membership(ctx: Ctx, session: Session, command: LcCommand, op: 'add' | 'remove'): Promise<LcCommand> {
  const conv = (command.convMessage ?? {}) as Sub;
  const m = ((conv.m as string[] | undefined) ?? []).filter((x) => typeof x === 'string');
  const signature = signatureOf(conv);
  const self = m.length === 1 && m[0] === session.clientId;
  const done = (allowedPids: string[], failed: FailedTarget[] = []) => ({
    cmd: 'conv',
    op: op === 'add' ? 'added' : 'removed',
    convMessage: { allowedPids, failedPids: failed.map((f) => ({ code: f.code, reason: f.name, detail: f.message, pids: [f.clientId] })) },
  });
  if (self && op === 'add') {
    await joinConversation(ctx, parseOrThrow(schemas.join, { cid: conv.cid, ...(signature ? { signature } : {}) }), session);
    return done(m);
  }
  if (self) {
    await quitConversation(ctx, parseOrThrow(schemas.quit, { cid: conv.cid }), session);
    return done(m);
  }
  const req = { cid: conv.cid, members: m, ...(signature ? { signature } : {}) };
  if (op === 'add') {
    const r = await inviteMembers(ctx, parseOrThrow(schemas.invite, req), session);
    return done(r.added, r.failed);
  }
  const r = await kickMembers(ctx, parseOrThrow(schemas.kick, req), session);
  return done(r.removed, r.failed);
}

/** `conv/count` → `count`. */
export async function count(ctx: Ctx, command: LcCommand): Promise<LcCommand> {
  const result = await countConversation(ctx, { cid: cidOf(command) });
  return { cmd: 'conv', op: 'result', convMessage: { count: result.count } };
}

/** `conv/mute`, `conv/unmute` → `mute`, `unmute`. */
export async function mute(ctx: Ctx, session: Session, command: LcCommand, muted: boolean): Promise<LcCommand> {
  await muteConversation(ctx, cidOf(command), session, muted);
  return { cmd: 'conv', op: 'updated', convMessage: {} };
}
