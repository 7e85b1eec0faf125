/**
 * LeanCloud command adapter: base64 `GenericCommand` frames from connections that negotiated
 * `lc.proto2base64.3` reach `$default` and are served by the same core as the native routes.
 * Adapted so far: session open/close and echo. Anything else is answered with an error command
 * (when it carries `i`) so the SDK fails fast instead of waiting for a timeout.
 */
import { randomBytes } from 'node:crypto';
import { errorBody, WithFollowUp, type Ctx, type RouteResponse } from '../route';
import { ImError } from '../errors';
import { closeSession, openSession } from '../sessions';
import { requireSession } from '../session-store';
import { decodeFrame, encodeFrame, LcDecodeError, type LcCommand } from './codec';

/** How long the SDK may reuse the session token it is given at `opened`. */
export const SESSION_TOKEN_TTL_SECONDS = 24 * 3600;

type Sub = Record<string, unknown>;

/** Serves one frame; the route response carries the reply unless it had to be posted first. */
export async function handleLeanCloudFrame(ctx: Ctx, text: string): Promise<RouteResponse> {
  let command: LcCommand;
  try {
    command = decodeFrame(text);
  } catch (err) {
    if (err instanceof LcDecodeError) {
      ctx.log.info('undecodable LeanCloud frame', { reason: err.message });
      return { statusCode: 200 };
    }
    throw err;
  }
  const i = command.i;
  const reply = (c: LcCommand): RouteResponse =>
    i === undefined ? { statusCode: 200 } : { statusCode: 200, body: encodeFrame({ ...c, i }) };
  try {
    const key = `${command.cmd ?? ''}/${command.op ?? ''}`;
    switch (key) {
      case 'echo/':
        return reply({ cmd: 'echo' });
      case 'session/open':
        return await open(ctx, command);
      case 'session/close': {
        await closeSession(ctx, await requireSession(ctx));
        return reply({ cmd: 'session', op: 'closed', ...(command.peerId ? { peerId: command.peerId } : {}) });
      }
      default:
        throw new ImError('UNPARSEABLE_RAW_MESSAGE', `LeanCloud command ${key} is not supported by this server`);
    }
  } catch (err) {
    const e = errorBody(err, ctx.log);
    return reply({
      cmd: 'error',
      ...(command.peerId ? { peerId: command.peerId } : {}),
      errorMessage: { code: e.code, reason: e.name, detail: e.message },
    });
  }
}

/**
 * `session/open` → the native `open` in unread mode (the `.3` protocol). The `opened` reply must
 * reach the SDK before the `unread` push, so it is posted first.
 */
async function open(ctx: Ctx, command: LcCommand): Promise<RouteResponse> {
  const session = (command.sessionMessage ?? {}) as Sub;
  const hasSignature = typeof session.s === 'string' && session.t !== undefined && typeof session.n === 'string';
  const outcome = await openSession(ctx, {
    clientId: command.peerId,
    ...(typeof session.tag === 'string' && session.tag ? { tag: session.tag } : {}),
    ...(typeof session.deviceId === 'string' && session.deviceId ? { deviceId: session.deviceId } : {}),
    reconnect: session.r === true,
    unreadMode: true,
    ...(hasSignature ? { signature: { signature: session.s as string, timestamp: Number(session.t), nonce: session.n as string } } : {}),
  });
  const opened = encodeFrame({
    cmd: 'session',
    op: 'opened',
    i: command.i,
    peerId: command.peerId,
    sessionMessage: { st: randomBytes(24).toString('base64url'), stTtl: SESSION_TOKEN_TTL_SECONDS },
  });
  if (command.i !== undefined) await ctx.gateway.post(ctx.connectionId, opened);
  if (outcome instanceof WithFollowUp) {
    await outcome.followUp().catch((err: unknown) => ctx.log.error('follow-up failed', { err }));
  }
  return { statusCode: 200 };
}
