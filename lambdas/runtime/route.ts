/**
 * Turns core functions into API Gateway WebSocket handlers. Every route module is
 * `export const { handle, handler } = defineAction(...)`: `handler` is the Lambda entry
 * (dependencies from the environment), `handle` takes explicit dependencies (local runtime).
 */
import type { ConnectionGateway } from '../gateways/connection-gateway';
import { depsFromEnv } from './deps';
import { WithFollowUp, type Ctx, type Deps, type Logger } from '../domain/context';
import { ImError, INTERNAL_ERROR_BODY, type ErrorBody } from '../protocol/errors';
import { isPlainObject, parseBody, replyFrame } from '../protocol/frames';
import { parseOrThrow, requestId, schemas, type Action, type Request } from '../protocol/schemas';
import { enforceRateLimit } from '../domain/rate-limit';
import { requireSession, type Session } from '../domain/session';

/** The subset of API Gateway's WebSocket event the handlers read. */
export interface WsEvent {
  requestContext: {
    routeKey: string;
    eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT';
    connectionId: string;
    domainName: string;
    stage: string;
    requestId: string;
    requestTimeEpoch: number;
    connectedAt?: number;
    disconnectStatusCode?: number;
    disconnectReason?: string;
    identity?: { sourceIp?: string; userAgent?: string };
  };
  body?: string | null;
  isBase64Encoded?: boolean;
  headers?: Record<string, string | undefined>;
}

export interface RouteResponse {
  statusCode: number;
  body?: string;
  headers?: Record<string, string>;
}

export type Handle = (event: WsEvent, deps: Deps) => Promise<RouteResponse>;
export type LambdaHandler = (event: WsEvent) => Promise<RouteResponse>;

export function makeCtx(event: WsEvent, deps: Deps): Ctx {
  const rc = event.requestContext;
  return {
    deps,
    connectionId: rc.connectionId,
    gateway: deps.gatewayFor({ domainName: rc.domainName, stage: rc.stage }),
    log: deps.log.child({ route: rc.routeKey, connectionId: rc.connectionId, requestId: rc.requestId }),
    now: deps.now(),
  };
}

interface Outcome {
  result: object;
  followUp?: () => Promise<void>;
}

/**
 * The route response for a reply (`undefined`: none) and optional follow-up work. The follow-up
 * must reach the client after the reply, so then the reply is posted explicitly instead of
 * riding on the route response, which API Gateway only sends once the handler returns.
 */
export async function respond(ctx: Ctx, reply: string | undefined, followUp?: () => Promise<void>): Promise<RouteResponse> {
  if (!followUp) return reply === undefined ? { statusCode: 200 } : { statusCode: 200, body: reply };
  try {
    if (reply !== undefined) await ctx.gateway.post(ctx.connectionId, reply);
    await followUp();
  } catch (err) {
    ctx.log.error('follow-up failed', { err });
  }
  return { statusCode: 200 };
}

export function errorBody(err: unknown, log: Logger): ErrorBody {
  if (err instanceof ImError) return err.toBody();
  log.error('unexpected error', { err });
  return INTERNAL_ERROR_BODY;
}

function toLambda(handle: Handle): LambdaHandler {
  return (event) => handle(event, depsFromEnv());
}

type SessionRun<A extends Action> = (ctx: Ctx, req: Request<A>, session: Session) => Promise<object>;
type OpenRun<A extends Action> = (ctx: Ctx, req: Request<A>) => Promise<object>;

/**
 * An action route. `session: true` (the default) loads the session bound to the connection
 * first and answers 4105 without one; the acting client always comes from that session.
 */
export function defineAction<A extends Action>(
  action: A,
  spec: { session: true; run: SessionRun<A> } | { session: false; run: OpenRun<A> },
): { handle: Handle; handler: LambdaHandler } {
  const handle: Handle = async (event, deps) => {
    const ctx = makeCtx(event, deps);
    const frame = parseBody(event.body);
    const rawId = isPlainObject(frame) ? frame.id : undefined;
    const idCheck = rawId === undefined ? undefined : requestId.safeParse(rawId);
    const id = idCheck?.success ? idCheck.data : undefined;
    let outcome: Outcome | undefined;
    let error: ErrorBody | undefined;
    try {
      if (idCheck && !idCheck.success)
        throw new ImError('UNPARSEABLE_RAW_MESSAGE', 'id must be a string or integer of at most 64 characters');
      const req = parseOrThrow(schemas[action], frame) as Request<A>;
      let result: object;
      if (spec.session) {
        const session = await requireSession(ctx);
        await enforceRateLimit(ctx, action, session.clientId);
        result = await spec.run(ctx, req, session);
      } else {
        result = await spec.run(ctx, req);
      }
      outcome = result instanceof WithFollowUp ? result : { result };
    } catch (err) {
      error = errorBody(err, ctx.log);
    }
    // A frame without a (valid) id is fire-and-forget: no reply, not even for errors.
    const wantsReply = rawId !== undefined;
    if (error) {
      if (!wantsReply) ctx.log.info('fire-and-forget request failed', { code: error.code });
      return wantsReply ? { statusCode: 200, body: replyFrame(action, id, { error }) } : { statusCode: 200 };
    }
    const { result, followUp } = outcome!;
    return respond(ctx, wantsReply ? replyFrame(action, id, { result }) : undefined, followUp);
  };
  return { handle, handler: toLambda(handle) };
}

/**
 * A worker (lib/routes.ts WORKERS): invoked asynchronously with a JSON payload, never by a
 * client. Failures throw, so Lambda's asynchronous retries apply.
 */
export function defineWorker<P extends object>(
  name: string,
  run: (ctx: Ctx, payload: P) => Promise<object>,
): {
  handle: (payload: P, deps: Deps) => Promise<object>;
  handler: (payload: P) => Promise<object>;
} {
  const handle = async (payload: P, deps: Deps) => {
    const log = deps.log.child({ worker: name });
    const ctx: Ctx = { deps, connectionId: '', log, now: deps.now(), gateway: noGateway };
    try {
      return await run(ctx, payload);
    } catch (err) {
      log.error('worker failed', { err });
      throw err;
    }
  };
  return { handle, handler: (payload) => handle(payload, depsFromEnv()) };
}

/** Workers have no WebSocket API behind them. */
const noGateway: ConnectionGateway = {
  post: () => Promise.reject(new Error('workers cannot post to connections')),
  disconnect: () => Promise.reject(new Error('workers cannot close connections')),
};

/** A lifecycle route ($connect, $disconnect, $default): raw event in, route response out. */
export function defineLifecycle(run: (ctx: Ctx, event: WsEvent) => Promise<RouteResponse>): {
  handle: Handle;
  handler: LambdaHandler;
} {
  const handle: Handle = async (event, deps) => {
    const ctx = makeCtx(event, deps);
    try {
      return await run(ctx, event);
    } catch (err) {
      ctx.log.error('lifecycle route failed', { err });
      return { statusCode: 500 };
    }
  };
  return { handle, handler: toLambda(handle) };
}
