/**
 * Fan-out: members → their live connections (presence, batched) → postToConnection with
 * bounded concurrency. A connection that answers 410 is removed, and its client counts as
 * offline for this delivery unless another of its connections took the frame.
 */
import { mapLimit } from './concurrency';
import type { ServerEvent } from '../protocol/events';
import type { Ctx } from './context';
import { deleteConnection, LEFT_MARKER_MS, presenceOf, removePresence } from '../stores/connections';
import type { WireProtocol } from '../protocol/subprotocols';

/** Posts in flight per invocation: enough to hide latency, low enough for the account-wide throttle. */
const POST_CONCURRENCY = 32;

export interface Target {
  clientId: string;
  connectionId: string;
  /** How the connection wants its frames; native JSON when absent. */
  protocol?: WireProtocol;
}

/**
 * Encodes an event for each target's protocol with the encoders the composition root wired in
 * (`Deps.encoders`): once per protocol, except where the encoding names the recipient.
 */
export function framer(ctx: Ctx, event: ServerEvent): (target: Pick<Target, 'clientId' | 'protocol'>) => string | undefined {
  let native: string | undefined;
  return (t) => {
    const protocol = t.protocol ?? 'native';
    if (protocol !== 'native') return ctx.deps.encoders[protocol](event, t.clientId);
    native ??= ctx.deps.encoders.native(event, t.clientId);
    return native;
  };
}

/** Posts one event to one connection in its protocol; 'skipped' when it has no form there. */
export async function postEvent(ctx: Ctx, target: Target, event: ServerEvent): Promise<'ok' | 'gone' | 'skipped'> {
  const frame = framer(ctx, event)(target);
  return frame === undefined ? 'skipped' : ctx.gateway.post(target.connectionId, frame);
}

export interface DeliveryReport {
  /** Clients at least one of whose connections took the frame. */
  reached: Set<string>;
}

/** Removes a dead connection's records; failures are logged, never surfaced to the sender. */
export async function dropDeadConnection(ctx: Ctx, target: Target): Promise<void> {
  ctx.log.info('dropping gone connection', { target: target.connectionId, clientId: target.clientId });
  try {
    await Promise.all([deleteConnection(ctx, target.connectionId), removePresence(ctx, target.clientId, [target.connectionId])]);
  } catch (err) {
    ctx.log.warn('could not remove gone connection', { err, target: target.connectionId });
  }
}

export async function postToTargets(ctx: Ctx, targets: Target[], event: ServerEvent): Promise<DeliveryReport> {
  const reached = new Set<string>();
  const frameFor = framer(ctx, event);
  await mapLimit(targets, POST_CONCURRENCY, async (t) => {
    try {
      const frame = frameFor(t);
      if (frame === undefined) return;
      const outcome = await ctx.gateway.post(t.connectionId, frame);
      if (outcome === 'ok') reached.add(t.clientId);
      else await dropDeadConnection(ctx, t);
    } catch (err) {
      // Throttled or failing after the SDK's retries: the frame is lost for this
      // connection; stored messages still reach the client through offline delivery.
      ctx.log.warn('post to connection failed', { err, target: t.connectionId });
    }
  });
  return { reached };
}

/**
 * Which conversation an event is of, with when each recipient joined it: a recipient removed from
 * it after this fan-out read the member list (and not back since) is skipped, so nothing of a
 * conversation follows its `kicked` or a `quit`.
 */
export interface FanOutScope {
  cid: string;
  joinedAt: ReadonlyMap<string, number>;
}

function removedSince(ctx: Ctx, left: Record<string, number>, clientId: string, scope: FanOutScope | undefined): boolean {
  const at = scope ? left[scope.cid] : undefined;
  return at !== undefined && at >= (scope!.joinedAt.get(clientId) ?? 0) && ctx.now - at < LEFT_MARKER_MS;
}

/** Live connections of the given clients, minus `except` (the connection that caused the event). */
export async function targetsOf(ctx: Ctx, clientIds: string[], except?: string, scope?: FanOutScope): Promise<Target[]> {
  const unique = [...new Set(clientIds)];
  if (unique.length === 0) return [];
  const presence = await presenceOf(ctx, unique);
  const targets: Target[] = [];
  for (const [clientId, { live, left }] of presence) {
    if (removedSince(ctx, left, clientId, scope)) continue;
    for (const c of live) if (c.connectionId !== except) targets.push({ clientId, connectionId: c.connectionId, protocol: c.protocol });
  }
  return targets;
}

export async function sendToClients(
  ctx: Ctx,
  clientIds: string[],
  event: ServerEvent,
  opts: { except?: string; scope?: FanOutScope } = {},
): Promise<DeliveryReport> {
  const targets = await targetsOf(ctx, clientIds, opts.except, opts.scope);
  return postToTargets(ctx, targets, event);
}
