/**
 * Fan-out: members → their live connections (presence, batched) → postToConnection with
 * bounded concurrency. A connection that answers 410 is removed, and its client counts as
 * offline for this delivery unless another of its connections took the frame.
 *
 * A message's audience (the members, or a chat room's connections) is chosen here too, and so is
 * when the fan-out runs (before or after the reply) and who is left to a push.
 */
import { mapLimit } from './concurrency';
import type { ServerEvent } from '../protocol/events';
import { WithFollowUp, type Ctx } from './context';
import { deleteConnection } from '../stores/connections';
import { type Session } from './session';
import { LEFT_MARKER_MS, presenceOf, removePresence } from '../stores/presence';
import { getConversation } from '../stores/conversations';
import { memberStates, type MemberRecord } from '../stores/members';
import { ImError } from '../protocol/errors';
import type { WireProtocol } from '../protocol/subprotocols';
import { schedulePush, type PushJob } from './push';
import { sendToRoom } from './rooms';

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
 * (`Deps.encoders`): once per protocol, except where the encoding names the recipient. Encoders
 * may be asynchronous (the LeanCloud one loads its protobuf codec on first use).
 */
export function framer(ctx: Ctx, event: ServerEvent): (target: Pick<Target, 'clientId' | 'protocol'>) => Promise<string | undefined> {
  let native: Promise<string | undefined> | undefined;
  return async (t) => {
    const protocol = t.protocol ?? 'native';
    if (protocol !== 'native') return ctx.deps.encoders[protocol](event, t.clientId);
    native ??= Promise.resolve(ctx.deps.encoders.native(event, t.clientId));
    return native;
  };
}

/** Posts one event to one connection in its protocol; 'skipped' when it has no form there. */
export async function postEvent(ctx: Ctx, target: Target, event: ServerEvent): Promise<'ok' | 'gone' | 'skipped'> {
  const frame = await framer(ctx, event)(target);
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
      const frame = await frameFor(t);
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

/**
 * Live connections of the given clients, minus `except` (the connection that caused the event),
 * and the clients held back because they were removed from the scope's conversation meanwhile.
 */
export async function targetsOf(
  ctx: Ctx,
  clientIds: string[],
  except?: string,
  scope?: FanOutScope,
): Promise<{ targets: Target[]; withheld: Set<string> }> {
  const unique = [...new Set(clientIds)];
  const targets: Target[] = [];
  const withheld = new Set<string>();
  if (unique.length === 0) return { targets, withheld };
  for (const [clientId, { live, left }] of await presenceOf(ctx, unique)) {
    if (removedSince(ctx, left, clientId, scope)) {
      withheld.add(clientId);
      continue;
    }
    for (const c of live) if (c.connectionId !== except) targets.push({ clientId, connectionId: c.connectionId, protocol: c.protocol });
  }
  return { targets, withheld };
}

/** Posts to every live connection of the clients; the report says who was reached and who held back. */
export async function sendToClients(
  ctx: Ctx,
  clientIds: string[],
  event: ServerEvent,
  opts: { except?: string; scope?: FanOutScope } = {},
): Promise<DeliveryReport & { withheld: Set<string> }> {
  const { targets, withheld } = await targetsOf(ctx, clientIds, opts.except, opts.scope);
  return { ...(await postToTargets(ctx, targets, event)), withheld };
}

/** Who gets a conversation's messages: its members, or the connections in a chat room. */
export type Audience = { room: false; members: string[]; muted: Set<string>; joinedAt: Map<string, number> } | { room: true };

/**
 * The audience of `cid` if the sender belongs to it, else 4401 (missing conversations
 * included). A connection in a room sends to that room; otherwise the member list decides.
 */
export async function audienceFor(ctx: Ctx, cid: string, session: Session): Promise<Audience> {
  if (session.room === cid) return { room: true };
  const states = await memberStates(ctx, cid);
  const audience = memberAudience(states, session.clientId);
  if (!audience) {
    const what =
      states.length === 0 && (await getConversation(ctx, cid))?.transient ? 'not in this chat room' : 'not a member of this conversation';
    throw new ImError('INVALID_MESSAGING_TARGET', what);
  }
  return audience;
}

/**
 * The audience a conversation's member list makes for `sender`: every member (the sender too,
 * for its other connections), who muted it, and when each joined (for `FanOutScope`).
 * Undefined when the sender is no member: only members send.
 */
export function memberAudience(
  states: readonly Pick<MemberRecord, 'clientId' | 'muted' | 'joinedAt'>[],
  sender: string,
): Extract<Audience, { room: false }> | undefined {
  const members = states.map((m) => m.clientId);
  if (!members.includes(sender)) return undefined;
  return {
    room: false,
    members,
    muted: new Set(states.filter((m) => m.muted).map((m) => m.clientId)),
    joinedAt: new Map(states.map((m) => [m.clientId, m.joinedAt])),
  };
}

/**
 * Audiences this large are served after the reply (posted through @connections): the sender's
 * `ok` must not wait for hundreds or thousands of posts.
 */
export const FAN_OUT_AFTER_REPLY_ABOVE = 100;

/** Whether the fan-out runs after the reply: always for rooms (their size is unknown until read), else above the bound. */
export function fansOutAfterReply(audience: Audience): boolean {
  return audience.room || audience.members.length > FAN_OUT_AFTER_REPLY_ABOVE;
}

/** Fan-out to everyone in the audience except the sending connection; returns the clients reached. */
async function deliver(ctx: Ctx, cid: string, audience: Audience, event: ServerEvent): Promise<Set<string>> {
  if (audience.room) {
    await sendToRoom(ctx, cid, event, { except: ctx.connectionId });
    return new Set();
  }
  const report = await sendToClients(ctx, audience.members, event, {
    except: ctx.connectionId,
    scope: { cid, joinedAt: audience.joinedAt },
  });
  // Members removed meanwhile count as handled: no push for a conversation they have left.
  return new Set([...report.reached, ...report.withheld]);
}

/** Who gets a push: members other than the sender that no live connection took the message for, unless muted. */
export function offlineRecipients(audience: Audience, reached: ReadonlySet<string>, sender: string): string[] {
  if (audience.room) return [];
  return audience.members.filter((m) => m !== sender && !reached.has(m) && !audience.muted.has(m));
}

/**
 * Fans out and, for stored messages of normal conversations, starts the push worker for the
 * members left offline. Small audiences are served before the reply (the route response) and
 * the worker is started after it; large ones entirely after the reply.
 */
export async function replyAndDeliver<R extends object>(
  ctx: Ctx,
  cid: string,
  audience: Audience,
  event: ServerEvent,
  result: R,
  push?: Omit<PushJob, 'recipients'>,
): Promise<R | WithFollowUp> {
  const schedule = (reached: Set<string>) =>
    push ? schedulePush(ctx, { ...push, recipients: offlineRecipients(audience, reached, push.from) }) : Promise.resolve();
  if (fansOutAfterReply(audience)) return new WithFollowUp(result, async () => schedule(await deliver(ctx, cid, audience, event)));
  const reached = await deliver(ctx, cid, audience, event);
  if (!push || !ctx.deps.push || offlineRecipients(audience, reached, push.from).length === 0) return result;
  return new WithFollowUp(result, () => schedule(reached));
}
