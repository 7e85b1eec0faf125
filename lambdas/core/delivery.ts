/**
 * Fan-out: members → their live connections (presence, batched) → postToConnection with
 * bounded concurrency. A connection that answers 410 is removed, and its client counts as
 * offline for this delivery unless another of its connections took the frame.
 */
import { mapLimit } from './concurrency';
import type { Ctx } from './route';
import { deleteConnection, livePresence, removePresence } from './session-store';

/** Posts in flight per invocation: enough to hide latency, low enough for the account-wide throttle. */
const POST_CONCURRENCY = 32;

export interface Target {
  clientId: string;
  connectionId: string;
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

export async function postToTargets(ctx: Ctx, targets: Target[], frame: string): Promise<DeliveryReport> {
  const reached = new Set<string>();
  await mapLimit(targets, POST_CONCURRENCY, async (t) => {
    try {
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

/** Live connections of the given clients, minus `except` (the connection that caused the event). */
export async function targetsOf(ctx: Ctx, clientIds: string[], except?: string): Promise<Target[]> {
  const unique = [...new Set(clientIds)];
  if (unique.length === 0) return [];
  const presence = await livePresence(ctx, unique);
  const targets: Target[] = [];
  for (const [clientId, conns] of presence) {
    for (const c of conns) if (c.connectionId !== except) targets.push({ clientId, connectionId: c.connectionId });
  }
  return targets;
}

export async function sendToClients(ctx: Ctx, clientIds: string[], event: object, opts: { except?: string } = {}): Promise<DeliveryReport> {
  const targets = await targetsOf(ctx, clientIds, opts.except);
  return postToTargets(ctx, targets, JSON.stringify(event));
}
