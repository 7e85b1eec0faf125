/**
 * LeanCloud command adapter: base64 `GenericCommand` frames from connections that negotiated
 * `lc.proto2base64.3` reach `$default` and are served by the same core as the native routes.
 * Adapted: session open/close/refresh/query, echo, conv start/query/add/remove/count/mute/
 * unmute/update/max_read, direct (send), logs (history), and the client's ack and read, under
 * the same rate limits, for every client multiplexed on the socket. Anything else is answered
 * with an error command (when it carries `i`) so the SDK fails fast instead of waiting 20 s.
 */
import { errorBody, respond, WithFollowUp, type Ctx, type RouteResponse } from '../route';
import { createConversation } from '../conversations';
import { updateConversation, type AttributeChange } from '../conversation-update';
import type { ConversationView } from '../conversation-store';
import { ImError } from '../errors';
import { findConversations } from '../find';
import { FIND_MAX_LIST } from '../find-query';
import {
  countConversation,
  inviteMembers,
  joinConversation,
  kickMembers,
  muteConversation,
  quitConversation,
  type FailedTarget,
} from '../membership';
import { ackMessages, messageIdsBetween, queryHistory, readMessages, sendMessage, type SendResult } from '../messages';
import { spendRateBudget, type RateBucket } from '../rate-limit';
import { receiptPoints } from '../receipts';
import { FIND_MAX_SKIP, onlineQuerySchema, parseOrThrow, schemas } from '../schemas';
import { closeSession, openSession } from '../sessions';
import { livePresence, sessionOf, type ConnectionRecord, type Session } from '../session-store';
import { verifySignature } from '../signatures';
import { decodeFrame, encodeFrame, LcDecodeError, type LcCommand } from './codec';
import { sessionAddressed } from './peers';
import {
  bindSessionToken,
  issueSessionToken,
  isSessionToken,
  requireSessionToken,
  revokeSessionToken,
  revokeSessionTokenKey,
} from './session-tokens';

type Sub = Record<string, unknown>;

/** The rate budget each LeanCloud command spends: the same as the native action it maps to. */
const RATE_LIMITED: Record<string, RateBucket> = {
  'direct/': 'send',
  'conv/start': 'other',
  'conv/query': 'other',
  'conv/add': 'other',
  'conv/remove': 'other',
  'conv/count': 'other',
  'conv/mute': 'other',
  'conv/unmute': 'other',
  'conv/update': 'other',
  'logs/': 'other',
  'read/': 'other',
  'session/refresh': 'other',
  'session/query': 'other',
  'conv/max_read': 'other',
};

/** Serves one frame; the route response carries the reply unless it had to be posted first. */
export async function handleLeanCloudFrame(socketCtx: Ctx, text: string, socket: ConnectionRecord): Promise<RouteResponse> {
  let command: LcCommand;
  try {
    command = decodeFrame(text);
  } catch (err) {
    if (err instanceof LcDecodeError) {
      socketCtx.log.info('undecodable LeanCloud frame', { reason: err.message });
      return { statusCode: 200 };
    }
    throw err;
  }
  const i = command.i;
  const reply = (c: LcCommand): RouteResponse =>
    i === undefined ? { statusCode: 200 } : { statusCode: 200, body: encodeFrame({ ...c, i }) };
  // From here on, ctx and conn are those of the client the command is for (one of several
  // the socket may carry); the socket's record was loaded to route the frame here.
  try {
    const { ctx, conn } = await sessionAddressed(socketCtx, socket, command);
    const current = () => sessionOf(ctx, conn);
    const key = `${command.cmd ?? ''}/${command.op ?? ''}`;
    // The same per-client budgets as the native actions these commands map to (which also
    // makes every one of them require a session: 4105 otherwise).
    const limitedAs = RATE_LIMITED[key];
    if (limitedAs) await spendRateBudget(ctx, limitedAs, current().clientId);
    switch (key) {
      case 'echo/':
        return reply({ cmd: 'echo' });
      case 'session/open':
        return await open(ctx, command);
      case 'session/refresh':
        return reply(await refresh(ctx, current(), command));
      case 'session/close': {
        const session = current();
        await revokeSessionTokenKey(ctx, conn?.sessionTokenKey);
        await closeSession(ctx, session);
        return reply({ cmd: 'session', op: 'closed', ...(command.peerId ? { peerId: command.peerId } : {}) });
      }
      case 'conv/start':
        return reply(await start(ctx, current(), command));
      case 'conv/query':
        return reply(await query(ctx, current(), command));
      case 'direct/':
        return await direct(ctx, current(), command);
      case 'logs/':
        return reply(await logs(ctx, current(), command));
      case 'conv/add':
      case 'conv/remove':
        return reply(await membership(ctx, current(), command, command.op as 'add' | 'remove'));
      case 'conv/update':
        return reply(await update(ctx, current(), command));
      case 'conv/max_read':
        return reply(await maxRead(ctx, current(), command));
      case 'session/query':
        return reply(await online(ctx, command));
      case 'conv/count': {
        const cid = String(((command.convMessage ?? {}) as Sub).cid ?? '');
        const { count } = await countConversation(ctx, parseOrThrow(schemas.count, { cid }));
        return reply({ cmd: 'conv', op: 'result', convMessage: { count } });
      }
      case 'conv/mute':
      case 'conv/unmute': {
        const session = current();
        const cid = String(((command.convMessage ?? {}) as Sub).cid ?? '');
        await muteConversation(ctx, parseOrThrow(schemas.mute, { cid }).cid, session, command.op === 'mute');
        return reply({ cmd: 'conv', op: 'updated', convMessage: {} });
      }
      case 'ack/':
        await ack(ctx, current(), command);
        return command.i === undefined ? { statusCode: 200 } : reply({ cmd: 'ack', ackMessage: {} });
      case 'read/':
        await read(ctx, current(), command);
        return command.i === undefined ? { statusCode: 200 } : reply({ cmd: 'read', readMessage: {} });
      default:
        throw new ImError('UNPARSEABLE_RAW_MESSAGE', `LeanCloud command ${key} is not supported by this server`);
    }
  } catch (err) {
    const e = errorBody(err, socketCtx.log);
    return reply({
      cmd: 'error',
      ...(command.peerId ? { peerId: command.peerId } : {}),
      errorMessage: { code: e.code, reason: e.name, detail: e.message },
    });
  }
}

/** A JsonObjectMessage's JSON (`{data: "…"}`), or 4114. */
function jsonOf(message: unknown, what: string): Record<string, unknown> {
  const data = (message as { data?: unknown } | undefined)?.data;
  if (data === undefined) return {};
  try {
    const parsed = JSON.parse(String(data)) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ImError('UNPARSEABLE_RAW_MESSAGE', `${what} must be a JSON object`);
}

function signatureOf(sub: Sub): { signature: string; timestamp: number; nonce: string } | undefined {
  return typeof sub.s === 'string' && sub.t !== undefined && typeof sub.n === 'string'
    ? { signature: sub.s, timestamp: Number(sub.t), nonce: sub.n }
    : undefined;
}

/**
 * `conv/start` → `create`. The SDK puts the name and custom attributes in one JSON object, and
 * its member list includes the creator (which is also what it signs).
 */
async function start(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
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
function conversationRow(c: ConversationView, me: string): Record<string, unknown> {
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
      ? { msg: c.lastMessage.data, msg_from: c.lastMessage.from, msg_mid: c.lastMessage.id, msg_timestamp: c.lastMessage.timestamp }
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
async function update(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
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
    { cid: parseOrThrow(schemas.count, { cid: conv.cid }).cid, ...(name !== undefined ? { name } : {}), changes },
    session,
  );
  return { cmd: 'conv', op: 'updated', convMessage: { cid: conversation.cid, udate: new Date(conversation.updatedAt).toISOString() } };
}

/**
 * `conv/max_read`: the newest delivered and read timestamps among the other members (with
 * `queryAllMembers`, per member too). Unknown points are left out, as the SDK expects.
 */
async function maxRead(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
  const conv = (command.convMessage ?? {}) as Sub;
  const points = await receiptPoints(ctx, parseOrThrow(schemas.count, { cid: conv.cid }).cid, session);
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

/** `session/query` (the SDK's `ping`): which of up to 20 clients have a live session. */
async function online(ctx: Ctx, command: LcCommand): Promise<LcCommand> {
  const ids = (((command.sessionMessage ?? {}) as Sub).sessionPeerIds as unknown[] | undefined) ?? [];
  const asked = parseOrThrow(onlineQuerySchema, ids);
  const live = await livePresence(ctx, asked);
  const onlineSessionPeerIds = asked.filter((id) => (live.get(id)?.length ?? 0) > 0);
  return { cmd: 'session', op: 'query_result', sessionMessage: { onlineSessionPeerIds } };
}

/** The ids of a where that is only `{objectId: {$in: [...]}}`, else undefined. */
function idLookup(where: Record<string, unknown> | undefined): string[] | undefined {
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
async function query(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
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

/** `direct` → `send`; the SDK expects an `ack` command with the message id and timestamp. */
async function direct(ctx: Ctx, session: Session, command: LcCommand): Promise<RouteResponse> {
  const d = (command.directMessage ?? {}) as Sub;
  let pushData: unknown;
  if (typeof d.pushData === 'string' && d.pushData) {
    try {
      pushData = JSON.parse(d.pushData);
    } catch {
      throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'pushData must be JSON');
    }
  }
  const req = parseOrThrow(schemas.send, {
    cid: d.cid,
    data: d.msg,
    ...(typeof d.dt === 'string' && d.dt ? { clientMsgId: d.dt.slice(0, 64) } : {}),
    transient: d.transient === true,
    receipt: d.r === true,
    ...(pushData !== undefined ? { pushData } : {}),
  });
  const outcome = await sendMessage(ctx, req, session);
  const result = outcome instanceof WithFollowUp ? (outcome.result as SendResult) : outcome;
  const ack =
    command.i === undefined
      ? undefined
      : encodeFrame({ cmd: 'ack', i: command.i, ackMessage: { uid: result.messageId, t: result.timestamp } });
  return respond(ctx, ack, outcome instanceof WithFollowUp ? outcome.followUp : undefined);
}

/** Client `ack`: a time range (`fromts`..`tots`) or one `mid` of a conversation → the native `ack`. */
async function ack(ctx: Ctx, session: Session, command: LcCommand): Promise<void> {
  const a = (command.ackMessage ?? {}) as Sub;
  if (typeof a.cid !== 'string') return;
  const ids =
    typeof a.mid === 'string' && a.mid
      ? [a.mid]
      : typeof a.fromts === 'number' && typeof a.tots === 'number'
        ? await messageIdsBetween(ctx, a.cid, a.fromts, a.tots)
        : [];
  if (ids.length > 0) await ackMessages(ctx, parseOrThrow(schemas.ack, { cid: a.cid, messageIds: ids }), session);
}

/** Client `read`: per conversation, read up to `mid` (or the newest) → the native `read`. */
async function read(ctx: Ctx, session: Session, command: LcCommand): Promise<void> {
  const r = (command.readMessage ?? {}) as Sub;
  const convs = Array.isArray(r.convs) ? (r.convs as Sub[]) : typeof r.cid === 'string' ? [{ cid: r.cid }] : [];
  for (const c of convs.slice(0, 50)) {
    const req = parseOrThrow(schemas.read, { cid: c.cid, ...(typeof c.mid === 'string' && c.mid ? { messageId: c.mid } : {}) });
    await readMessages(ctx, req, session).catch((err: unknown) => ctx.log.info('LeanCloud read skipped', { err, cid: c.cid }));
  }
}

/**
 * `logs` → `query`. The start (`t`, `mid`, `tIncluded`) and end (`tt`, `tmid`, `ttIncluded`) of
 * the range are read in the command's direction: OLD (the default) pages back in time from the
 * start, NEW forward. Results are oldest first either way.
 */
async function logs(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
  const l = (command.logsMessage ?? {}) as Sub;
  // Refused rather than ignored: the SDK would take every message for one of the asked type.
  if (l.lctype !== undefined && l.lctype !== 0)
    throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'history by message type is not supported by this server');
  const limit = typeof l.l === 'number' ? l.l : typeof l.limit === 'number' ? l.limit : 20;
  if (limit === 0) return { cmd: 'logs', logsMessage: {} };
  const bound = (mid: unknown, t: unknown, inclusive: unknown) =>
    typeof mid === 'string' && mid
      ? { messageId: mid, inclusive: inclusive === true }
      : typeof t === 'number' && t > 0
        ? { timestamp: t, inclusive: inclusive === true }
        : undefined;
  const start = bound(l.mid, l.t, l.tIncluded);
  const end = bound(l.tmid, l.tt, l.ttIncluded);
  const newer = l.direction === 'NEW';
  const [before, after] = newer ? [end, start] : [start, end];
  const req = parseOrThrow(schemas.query, {
    cid: l.cid,
    limit: Math.min(1000, Math.max(1, limit)),
    ...(before ? { before } : {}),
    ...(after ? { after } : {}),
  });
  // The schema checks the bounds but keeps no `inclusive`: the bounds themselves go on.
  const { messages } = await queryHistory(ctx, { ...req, before, after, from: newer ? 'oldest' : 'newest' }, session);
  return { cmd: 'logs', logsMessage: { logs: messages.map((m) => ({ msgId: m.id, timestamp: m.timestamp, from: m.from, data: m.data })) } };
}

/**
 * `conv/add` / `conv/remove`: with only the caller in `m` they are `join` / `quit` (how the SDK
 * joins and quits), otherwise `invite` / `kick`. Failures per client become `failedPids`.
 */
async function membership(ctx: Ctx, session: Session, command: LcCommand, op: 'add' | 'remove'): Promise<LcCommand> {
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

/**
 * `session/open` → the native `open` in unread mode (the `.3` protocol). The `opened` reply must
 * reach the SDK before the `unread` push, so it is posted first. An automatic reconnect carries
 * the session token instead of a signature: a live token stands in for it (and is handed back),
 * anything else is 4112, after which the SDK opens again without one.
 */
async function open(ctx: Ctx, command: LcCommand): Promise<RouteResponse> {
  const session = (command.sessionMessage ?? {}) as Sub;
  const signature = signatureOf(session);
  const clientId = command.peerId;
  const presented = typeof session.st === 'string' && session.st && typeof clientId === 'string' ? session.st : undefined;
  const reused = presented ? await requireSessionToken(ctx, clientId!, presented) : undefined;
  const outcome = await openSession(
    ctx,
    {
      clientId,
      ...(typeof session.tag === 'string' && session.tag ? { tag: session.tag } : {}),
      ...(typeof session.deviceId === 'string' && session.deviceId ? { deviceId: session.deviceId } : {}),
      reconnect: session.r === true,
      unreadMode: true,
      ...(signature ? { signature } : {}),
    },
    { proven: reused !== undefined },
  );
  if (reused) await bindSessionToken(ctx, reused.st);
  const token = reused ?? (await issueSessionToken(ctx, clientId!));
  const opened = encodeFrame({ cmd: 'session', op: 'opened', i: command.i, peerId: clientId, sessionMessage: token });
  // Posted even without follow-up work: the unread push always follows `opened`.
  return respond(
    ctx,
    command.i === undefined ? undefined : opened,
    outcome instanceof WithFollowUp ? outcome.followUp : async () => undefined,
  );
}

/**
 * `session/refresh`: a new token for the session on this connection. With signatures on it needs
 * a fresh login signature or a still-live token; the old token is revoked.
 */
async function refresh(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
  const s = (command.sessionMessage ?? {}) as Sub;
  const old = typeof s.st === 'string' && s.st ? s.st : undefined;
  const live = old !== undefined && (await isSessionToken(ctx, session.clientId, old));
  if (!live) await verifySignature(ctx, 'open', session.clientId, signatureOf(s));
  if (old !== undefined) await revokeSessionToken(ctx, old);
  const token = await issueSessionToken(ctx, session.clientId);
  return { cmd: 'session', op: 'refreshed', sessionMessage: token };
}
