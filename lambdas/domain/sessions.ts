/** Sessions: `open`, `close`, connection lifecycle (docs/protocol.md §5). */
import { conversationProgress } from '../stores/conversations';
import { membershipsOf } from '../stores/members';
import { dropDeadConnection, postEvent } from './fan-out';
import { ImError } from '../protocol/errors';
import { changedSince } from './message-edits';
import { deliverOffline, unreadSummary } from './offline';
import { WithFollowUp, type Ctx } from './context';
import { CLIENT_ID_PATTERN, type Request } from '../protocol/schemas';
import {
  bindConnection,
  deleteConnection,
  deviceKeysOf,
  getConnection,
  nonNativeProtocol,
  unbindConnection,
  type ConnectionRecord,
} from '../stores/connections';
import { claimPresence, getPresence, removePresence, type LiveConnection, type Presence, type PresenceEntry } from '../stores/presence';
import { sessionOf, type Session } from './session';
import { PEER_SESSION_SEPARATOR } from '../gateways/connection-gateway';
import { deviceKeyOf, registerDevice, unregisterDevice } from './devices';
import { spendOpenBudget } from './rate-limit';
import { forgetRoom, leaveRoom, rejoinRecentRoom, rememberRoomOnDisconnect } from './rooms';
import { verifySignature } from './signatures';

export const SESSION_CONFLICT_EVENT = { event: 'closed', code: 4111, name: 'SESSION_CONFLICT' } as const;

/**
 * Rounds of read, resolve, claim for one login's tag. Each lost round means another login with
 * the tag wrote in between; this many in a row only under a storm of them, and refusing one then
 * still leaves a single holder.
 */
const TAG_CLAIM_ATTEMPTS = 5;

/** What of an `open` decides its tag conflicts. */
export type TagClaim = Pick<Request<'open'>, 'tag' | 'deviceId' | 'reconnect'>;

/** How a login settles with the other live connections of its client that hold its tag. */
export type TagConflictPlan =
  | { refused: true }
  | {
      refused: false;
      /** The connections to end, and whether each is told `closed` (4111) first. */
      replaced: { connection: LiveConnection; notify: boolean }[];
    };

/**
 * Single-device login: another live connection of this client with the same tag is replaced
 * silently when it is the same device (same non-empty deviceId), refused when this open is an
 * automatic reconnect, and otherwise told `closed` (4111) and disconnected. `self` is the
 * connection opening, which never conflicts with itself (a re-open).
 */
export function planTagConflicts(self: string, req: TagClaim, live: readonly LiveConnection[]): TagConflictPlan {
  if (!req.tag) return { refused: false, replaced: [] };
  const others = live.filter((c) => c.tag === req.tag && c.connectionId !== self);
  const sameDevice = (c: LiveConnection) => req.deviceId !== undefined && c.deviceId === req.deviceId;
  if (req.reconnect && others.some((c) => !sameDevice(c))) return { refused: true };
  return { refused: false, replaced: others.map((connection) => ({ connection, notify: !sameDevice(connection) })) };
}

/** Carries out `planTagConflicts` for this login, or refuses it with 4111. */
async function resolveTagConflicts(ctx: Ctx, clientId: string, req: Request<'open'>, live: LiveConnection[]): Promise<void> {
  const plan = planTagConflicts(ctx.connectionId, req, live);
  if (plan.refused) {
    throw new ImError('SESSION_CONFLICT', `client ${clientId} is signed in with tag "${req.tag}" on another device`);
  }
  for (const { connection: c, notify } of plan.replaced) {
    if (notify) {
      await postEvent(ctx, { clientId, connectionId: c.connectionId, protocol: c.protocol }, SESSION_CONFLICT_EVENT).catch(
        (err: unknown) => {
          ctx.log.warn('could not notify replaced session', { err, target: c.connectionId });
        },
      );
    }
    if (c.protocol === 'leancloud') {
      // The socket may carry other clients too: only this client's session there ends, as a logout.
      await endSessionThere({ ...ctx, connectionId: c.connectionId }, clientId);
      continue;
    }
    await ctx.gateway.disconnect(c.connectionId).catch((err: unknown) => {
      ctx.log.warn('could not disconnect replaced session', { err, target: c.connectionId });
    });
    await dropDeadConnection(ctx, { clientId, connectionId: c.connectionId });
  }
}

/**
 * A replaced LeanCloud session. Its record may not be bound yet (its `open` is still under way):
 * unbinding it anyway moves its generation on, so that open can no longer bind it.
 */
async function endSessionThere(there: Ctx, clientId: string): Promise<void> {
  const record = await getConnection(there);
  if (record?.clientId === clientId) {
    await closeSession(there, sessionOf(there, record));
    return;
  }
  await removePresence(there, clientId, [there.connectionId]);
  await unbindConnection(there, clientId);
}

/**
 * Puts this connection into its client's presence, holding `req.tag` if it has one. Of several
 * logins with one tag at once, each claims the tag only from the holder it read (and replaced),
 * so one that finds the tag taken in between reads again and resolves the conflict with the
 * new holder: whatever the timing, a single one holds it at the end.
 */
async function enterPresence(ctx: Ctx, clientId: string, req: Request<'open'>, entry: PresenceEntry): Promise<Presence> {
  let first: Presence | undefined;
  for (let attempt = 0; attempt < TAG_CLAIM_ATTEMPTS; attempt++) {
    const presence = await getPresence(ctx, clientId);
    if (!first) {
      first = presence;
      if (presence.expired.length > 0) await removePresence(ctx, clientId, presence.expired);
    }
    await resolveTagConflicts(ctx, clientId, req, presence.live);
    if (await claimPresence(ctx, clientId, ctx.connectionId, entry, presence)) return first;
  }
  throw new ImError('SESSION_CONFLICT', `client ${clientId} is signing in elsewhere at the same time; retry`);
}

/** Why a bind was refused, as the record now tells: another client took it (4103), or the session ended (4111). */
async function bindRefusal(ctx: Ctx, clientId: string): Promise<ImError> {
  const now = await getConnection(ctx);
  if (now?.clientId !== undefined && now.clientId !== clientId) {
    return new ImError('INVALID_LOGIN', 'this connection is bound to another client; close it first');
  }
  return new ImError('SESSION_CONFLICT', 'this session was ended while it was being opened');
}

export interface OpenOptions {
  /** The caller already established who the client is (a LeanCloud session token), which stands in for the signature. */
  proven?: boolean;
  /**
   * Creates the connection record when there is none yet (a further LeanCloud client on a
   * socket), once the client is proven: a failed login leaves nothing behind.
   */
  establish?: () => Promise<ConnectionRecord>;
}

/**
 * `open`. A re-open of the session already bound on this connection updates its options and
 * registers a new device token, but answers with the reply only: the offline messages (or the
 * unread summary) and missed changes went out with the first open.
 */
/** What `open` answers (docs/protocol.md §5.1). */
export interface OpenResult {
  clientId: string;
  serverTime: number;
  /** The chat room the connection is in or went back into (at most one). */
  rooms: string[];
}

/** `close` answers a bare `ok`. */
export type CloseResult = Record<string, never>;

export async function openSession(ctx: Ctx, req: Request<'open'>, opts: OpenOptions = {}): Promise<WithFollowUp> {
  const clientId = req.clientId;
  if (typeof clientId !== 'string' || !CLIENT_ID_PATTERN.test(clientId)) {
    throw new ImError('INVALID_LOGIN', 'clientId must be 1-64 characters of [A-Za-z0-9_-.@]');
  }
  await spendOpenBudget(ctx, clientId);
  let conn = await getConnection(ctx);
  if (conn?.clientId !== undefined && conn.clientId !== clientId) {
    throw new ImError('INVALID_LOGIN', `this connection is open as ${conn.clientId}; close it first`);
  }
  const reopen = conn?.clientId === clientId;
  // Re-opening an already bound session (idempotent open) needs no new signature.
  if (!reopen && !opts.proven) await verifySignature(ctx, 'open', clientId, req.signature);
  if (!conn && opts.establish) conn = await opts.establish();
  if (!conn) throw new ImError('INVALID_LOGIN', 'this connection is closed; connect again');

  const protocol = nonNativeProtocol(conn);
  // Presence before the bind: a refused reconnect leaves the connection as it was, and a login
  // replaced while still opening cannot bind afterwards (its record is gone, or its generation
  // moved on), so the replacement holds.
  const presence = await enterPresence(ctx, clientId, req, {
    expiresAt: conn.expiresAt,
    ...(req.tag ? { tag: req.tag } : {}),
    ...(req.deviceId ? { deviceId: req.deviceId } : {}),
    ...(protocol ? { protocol } : {}),
  });
  // Known before registration, so that a `close` racing the follow-up below unregisters it too.
  const deviceKey = req.deviceToken ? deviceKeyOf({ deviceToken: req.deviceToken, deviceId: req.deviceId }) : req.deviceId;
  const unreadMode = req.unreadMode === true;
  const generation = conn.generation;
  try {
    const bound = await bindConnection(
      ctx,
      { clientId, tag: req.tag, deviceId: req.deviceId, unreadMode, deviceKeys: deviceKey ? [deviceKey] : [] },
      generation,
    );
    if (!bound) throw await bindRefusal(ctx, clientId);
  } catch (err) {
    // Ended (or taken by another client) while being opened: it must not stay in presence.
    await removePresence(ctx, clientId, [ctx.connectionId]);
    throw err;
  }
  const self = { clientId, connectionId: ctx.connectionId, protocol };

  // Back into the room this client left by disconnecting, within the window.
  const rooms = conn.room ? [conn.room] : await rejoinRecentRoom(ctx, clientId, presence.lastRoom, protocol);
  const result: OpenResult = { clientId, serverTime: ctx.now, rooms };
  // Offline messages or the unread summary must arrive after the reply.
  return new WithFollowUp(result, async () => {
    let registered: string | undefined;
    if (req.deviceToken) {
      try {
        registered = await registerDevice(ctx, clientId, {
          deviceToken: req.deviceToken,
          pushPlatform: req.pushPlatform,
          deviceId: req.deviceId,
        });
      } catch (err) {
        // The session works without push; the next open registers again.
        ctx.log.error('device registration failed', { err });
      }
    }
    const now = await getConnection(ctx);
    // A close that ran before the registration could not unregister the device: that is done
    // here, unless a newer session of the client on this connection names it (its close will).
    const named = now?.clientId === clientId && registered !== undefined && deviceKeysOf(now).includes(registered);
    if (registered && !named) await unregisterDevice(ctx, clientId, registered);
    if (now?.clientId !== clientId || now.generation !== generation) {
      // Gone: a $disconnect that read the record before the bind left the presence entry.
      if (!now) await removePresence(ctx, clientId, [ctx.connectionId]);
      return;
    }
    if (reopen) return;
    const memberships = await membershipsOf(ctx, clientId);
    // Read once for the unread summary (or offline delivery) and the missed changes.
    const progress = await conversationProgress(
      ctx,
      memberships.map((m) => m.cid),
    );
    if (unreadMode) {
      const conversations = await unreadSummary(ctx, clientId, memberships, progress);
      await postEvent(ctx, self, { event: 'unread', conversations });
    } else {
      // Batches are a native extension; other protocols keep their own frames.
      await deliverOffline(ctx, self, memberships, progress, { batch: req.offlineBatch === true && !protocol });
    }
    if (req.changesSince) {
      for (const message of await changedSince(ctx, progress, req.changesSince)) {
        await postEvent(ctx, self, { event: 'messageUpdated', message });
      }
    }
  });
}

/**
 * `close`: logout on this connection only; the socket stays open and may `open` again. The
 * devices are unregistered after the unbind: an open's follow-up that registers one later finds
 * the session ended and unregisters it itself, so none is left either way.
 */
export async function closeSession(ctx: Ctx, session: Session): Promise<CloseResult> {
  await removePresence(ctx, session.clientId, [ctx.connectionId]);
  const ended = await unbindConnection(ctx, session.clientId);
  await leaveRoom(ctx, session);
  await forgetRoom(ctx, session.clientId);
  for (const key of new Set([...session.pushDeviceKeys, ...deviceKeysOf(ended)])) {
    await unregisterDevice(ctx, session.clientId, key);
  }
  return {};
}

/** `$disconnect`: drop the connection record and its presence entry, and those of its peers. */
export async function disconnectCleanup(ctx: Ctx): Promise<void> {
  const conn = await getConnection(ctx);
  await endConnection(ctx, conn);
  // Other clients whose sessions shared the socket (LeanCloud multiplexing).
  for (const peer of conn?.peers ?? []) {
    const peerCtx = { ...ctx, connectionId: `${ctx.connectionId}${PEER_SESSION_SEPARATOR}${peer}` };
    await endConnection(peerCtx, await getConnection(peerCtx));
  }
}

async function endConnection(ctx: Ctx, conn: ConnectionRecord | undefined): Promise<void> {
  await rememberRoomOnDisconnect(ctx, conn?.clientId, conn?.room);
  if (conn?.clientId) await removePresence(ctx, conn.clientId, [ctx.connectionId]);
  const last = await deleteConnection(ctx, ctx.connectionId);
  // An open that bound the record after it was read above put it into presence too: take it out,
  // or its tag would lock out that client's reconnects until the entry expires.
  if (last?.clientId && last.clientId !== conn?.clientId) await removePresence(ctx, last.clientId, [ctx.connectionId]);
}
