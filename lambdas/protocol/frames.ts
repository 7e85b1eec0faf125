/** Frames that never reach an action route. */
import { ImError, type ErrorBody } from './errors';
import { requestId, type RequestId } from './schemas';

/**
 * The reply for a frame API Gateway routed to `$default`: 4114 when it carries an id,
 * nothing otherwise (fire-and-forget frames get no reply, not even errors).
 */
export function unroutableReply(body: string | null | undefined): string | undefined {
  const frame = parseBody(body);
  if (!isPlainObject(frame) || frame.id === undefined) return undefined;
  const id = requestId.safeParse(frame.id);
  const action = typeof frame.action === 'string' ? frame.action : null;
  const message =
    frame.action === undefined
      ? 'frame has no action'
      : action === null
        ? 'action must be a string'
        : `unknown action "${action.slice(0, 64)}"`;
  const error = new ImError('UNPARSEABLE_RAW_MESSAGE', message).toBody();
  return replyFrame(action?.slice(0, 64) ?? null, id.success ? id.data : undefined, { error });
}

export function replyFrame(action: string | null, id: RequestId | undefined, outcome: { result: object } | { error: ErrorBody }): string {
  const head = { reply: action, ...(id !== undefined ? { id } : {}) };
  return JSON.stringify('error' in outcome ? { ...head, ok: false, error: outcome.error } : { ...head, ok: true, result: outcome.result });
}

export function parseBody(body: string | null | undefined): unknown {
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
