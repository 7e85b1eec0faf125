/**
 * LeanCloud `session` commands: open (with session tokens standing in for signatures on
 * reconnects), refresh, close and query (online status).
 */
import { randomBytes } from 'node:crypto';
import { respond, type RouteResponse } from '../runtime/route';
import type { Ctx } from '../domain/context';
import { onlineQuerySchema, parseOrThrow } from '../protocol/schemas';
import { closeSession, openSession } from '../domain/sessions';
import type { ConnectionRecord } from '../stores/connections';
import { livePresence } from '../stores/presence';
import type { Session } from '../domain/session';
import { verifySignature } from '../domain/signatures';
import { encodeFrame, type LcCommand } from './codec';
import { signatureOf, type Sub } from './fields';
import {
  bindSessionToken,
  issueSessionToken,
  liveSessionToken,
  requireSessionToken,
  revokeSessionToken,
  revokeSessionTokenKey,
} from './session-tokens';

/**
 * `session/open` → the native `open` in unread mode (the `.3` protocol). The `opened` reply must
 * reach the SDK before the `unread` push, so it is posted first. An automatic reconnect carries
 * the session token instead of a signature: a live token stands in for it (and is handed back),
 * anything else is 4112, after which the SDK opens again without one. Without a `peerId` the
 * server makes up a client id (LeanCloud's anonymous login), which `opened` tells the SDK.
 */
export async function open(ctx: Ctx, command: LcCommand, establish?: () => Promise<ConnectionRecord>): Promise<RouteResponse> {
  const session = (command.sessionMessage ?? {}) as Sub;
  const signature = signatureOf(session);
  const clientId = command.peerId || randomBytes(15).toString('base64url');
  const presented = typeof session.st === 'string' && session.st ? session.st : undefined;
  const reused = presented ? await requireSessionToken(ctx, clientId, presented) : undefined;
  const outcome = await openSession(
    ctx,
    {
      clientId,
      ...(typeof session.tag === 'string' && session.tag ? { tag: session.tag } : {}),
      ...(typeof session.deviceId === 'string' && session.deviceId ? { deviceId: session.deviceId } : {}),
      reconnect: session.r === true,
      unreadMode: true,
      // The edits and recalls missed since then follow the unread summary, as patch pushes.
      ...(typeof session.lastPatchTime === 'number' && session.lastPatchTime > 0 ? { changesSince: session.lastPatchTime } : {}),
      ...(signature ? { signature } : {}),
    },
    { proven: reused !== undefined, ...(establish ? { establish } : {}) },
  );
  if (reused) await bindSessionToken(ctx, reused.st);
  const token = reused ?? (await issueSessionToken(ctx, clientId));
  // serverTs becomes the SDK's lastPatchTime, which it sends back on its next open.
  const opened = encodeFrame({ cmd: 'session', op: 'opened', i: command.i, peerId: clientId, serverTs: ctx.now, sessionMessage: token });
  // Posted first: the unread push always follows `opened`.
  return respond(ctx, command.i === undefined ? undefined : opened, outcome.followUp);
}

/**
 * `session/refresh`: a new token for the session on this connection. With signatures on it needs
 * a fresh login signature or a still-live token; the old token is revoked.
 */
export async function refresh(ctx: Ctx, session: Session, command: LcCommand): Promise<LcCommand> {
  const s = (command.sessionMessage ?? {}) as Sub;
  const old = typeof s.st === 'string' && s.st ? s.st : undefined;
  const live = old !== undefined && (await liveSessionToken(ctx, session.clientId, old)) !== undefined;
  if (!live) await verifySignature(ctx, 'open', session.clientId, signatureOf(s));
  if (old !== undefined) await revokeSessionToken(ctx, old);
  const token = await issueSessionToken(ctx, session.clientId);
  return { cmd: 'session', op: 'refreshed', sessionMessage: token };
}

/** `session/query` (the SDK's `ping`): which of up to 20 clients have a live session. */
export async function online(ctx: Ctx, command: LcCommand): Promise<LcCommand> {
  const ids = (((command.sessionMessage ?? {}) as Sub).sessionPeerIds as unknown[] | undefined) ?? [];
  const asked = parseOrThrow(onlineQuerySchema, ids);
  const live = await livePresence(ctx, asked);
  const onlineSessionPeerIds = asked.filter((id) => (live.get(id)?.length ?? 0) > 0);
  return { cmd: 'session', op: 'query_result', sessionMessage: { onlineSessionPeerIds } };
}

/** `session/close` → `close`; the connection's session token is revoked with it. */
export async function close(ctx: Ctx, conn: ConnectionRecord | undefined, session: Session, command: LcCommand): Promise<LcCommand> {
  await revokeSessionTokenKey(ctx, conn?.sessionTokenKey);
  await closeSession(ctx, session);
  return { cmd: 'session', op: 'closed', ...(command.peerId ? { peerId: command.peerId } : {}) };
}
