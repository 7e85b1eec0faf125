/**
 * LeanCloud message commands → the core's message functions: direct (send, answered with `ack`),
 * logs (history in both directions), and the client's ack and read.
 */
import { createHash } from 'node:crypto';
import { respond, type RouteResponse } from '../runtime/route';
import { WithFollowUp, type Ctx } from '../domain/context';
import { ImError } from '../protocol/errors';
import { modifyMessage } from '../domain/message-edits';
import type { MessageView } from '../protocol/views';
import { messageIdsBetween, queryHistory } from '../domain/history';
import { sendMessage, type SendResult } from '../domain/messaging';
import { ackMessages, readMessages } from '../domain/receipts';
import { parseOrThrow, schemas } from '../protocol/schemas';
import type { Session } from '../domain/session';
import { encodeFrame, type LcCommand } from './codec';
import { mentionsOf } from './encoder';
import type { Sub } from './fields';

/**
 * The SDK's `dt` as a `clientMsgId` (at most 64 characters): SDKs send UUIDs; a longer one is
 * hashed rather than cut, so two that share their first 64 characters stay distinct.
 */
export function dedupeIdOf(dt: string): string {
  return dt.length <= 64 ? dt : `dt-${createHash('sha256').update(dt).digest('base64url')}`;
}

/** `direct` → `send`; the SDK expects an `ack` command with the message id and timestamp. */
export async function direct(ctx: Ctx, session: Session, command: LcCommand): Promise<RouteResponse> {
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
    ...(typeof d.dt === 'string' && d.dt ? { clientMsgId: dedupeIdOf(d.dt) } : {}),
    transient: d.transient === true,
    receipt: d.r === true,
    ...(pushData !== undefined ? { pushData } : {}),
    ...(Array.isArray(d.mentionPids) && d.mentionPids.length > 0 ? { mentions: d.mentionPids } : {}),
    mentionAll: d.mentionAll === true,
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
export async function ack(ctx: Ctx, session: Session, command: LcCommand): Promise<void> {
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
export async function read(ctx: Ctx, session: Session, command: LcCommand): Promise<void> {
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
export async function logs(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
  const l = (command.logsMessage ?? {}) as Sub;
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
    ...(typeof l.lctype === 'number' && l.lctype !== 0 ? { type: l.lctype } : {}),
  });
  // The schema checks the bounds but keeps no `inclusive`: the bounds themselves go on.
  const { messages } = await queryHistory(ctx, { ...req, before, after, from: newer ? 'oldest' : 'newest' }, session);
  const logs = messages.map((m) => ({
    msgId: m.id,
    timestamp: m.timestamp,
    from: m.from,
    data: m.data,
    ...(m.updatedAt !== undefined ? { patchTimestamp: m.updatedAt } : {}),
    ...mentionsOf(m),
  }));
  return { cmd: 'logs', logsMessage: { logs } };
}

/** Patches one `patch/modify` may carry (the SDK sends one). */
const MAX_PATCHES = 10;

/** `patch/modify` → `edit` / `recall`, one per patch; the reply carries the newest patch time. */
export async function patch(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
  const patches = (((command.patchMessage ?? {}) as Sub).patches as Sub[] | undefined) ?? [];
  if (patches.length === 0 || patches.length > MAX_PATCHES)
    throw new ImError('UNPARSEABLE_RAW_MESSAGE', `patch needs 1-${MAX_PATCHES} patches`);
  let lastPatchTime = 0;
  for (const p of patches) {
    const recall = p.recall === true;
    const req = recall
      ? parseOrThrow(schemas.recall, { cid: p.cid, messageId: p.mid })
      : parseOrThrow(schemas.edit, { cid: p.cid, messageId: p.mid, data: p.data });
    const outcome = await modifyMessage(ctx, { ...req, recall }, session);
    // Fan-outs too large to finish before the reply run right after it, one patch at a time.
    const result = (outcome instanceof WithFollowUp ? outcome.result : outcome) as { message: MessageView };
    if (outcome instanceof WithFollowUp) await outcome.followUp();
    lastPatchTime = Math.max(lastPatchTime, result.message.updatedAt ?? 0);
  }
  return { cmd: 'patch', op: 'modified', patchMessage: { lastPatchTime } };
}
