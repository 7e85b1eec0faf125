/**
 * LeanCloud command adapter: base64 `GenericCommand` frames from connections that negotiated
 * `lc.proto2base64.3` reach `$default` and are served by the same core as the native routes.
 * Adapted: session open/close/refresh/query, echo, conv start/query/add/remove/count/mute/
 * unmute/update/max_read, direct (send), patch (edit, recall), logs (history), and the client's ack and read, under
 * the same rate limits, for every client multiplexed on the socket. Anything else is answered
 * with an error command (when it carries `i`) so the SDK fails fast instead of waiting 20 s.
 */
import { errorBody, type RouteResponse } from '../runtime/route';
import { type Ctx } from '../domain/context';
import { ImError } from '../protocol/errors';
import { spendRateBudget, type RateBucket } from '../domain/rate-limit';
import { sessionOf } from '../domain/session';
import type { ConnectionRecord } from '../stores/connections';
import { decodeFrame, encodeFrame, LcDecodeError, type LcCommand } from './codec';
import { count, maxRead, membership, mute, query, start, update } from './conversation-commands';
import { ack, direct, logs, patch, read } from './message-commands';
import { sessionAddressed } from './peers';
import { close, online, open, refresh } from './session-commands';

/** The rate budget each LeanCloud command spends: the same as the native action it maps to. */
const RATE_LIMITED: Record<string, RateBucket> = {
  'direct/': 'send',
  'patch/modify': 'other',
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
    const { ctx, conn, establish } = await sessionAddressed(socketCtx, socket, command);
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
        return await open(ctx, command, establish);
      case 'session/refresh':
        return reply(await refresh(ctx, current(), command));
      case 'session/close':
        return reply(await close(ctx, conn, current(), command));
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
      case 'conv/count':
        return reply(await count(ctx, command));
      case 'conv/mute':
      case 'conv/unmute':
        return reply(await mute(ctx, current(), command, command.op === 'mute'));
      case 'patch/modify':
        return reply(await patch(ctx, current(), command));
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
