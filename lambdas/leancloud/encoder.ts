/**
 * Native server events (docs/protocol.md §15) → the LeanCloud pushes its SDKs expect (no `i`),
 * for connections that negotiated `lc.proto2base64.3`. The switch is exhaustive over
 * `ServerEvent`: a new event fails to compile until it is mapped here (or declared to have no
 * LeanCloud form, and then not sent to such connections).
 */
import type { MessageView } from '../protocol/views';
import type { LcCommand } from './codec';
import type { ServerEvent } from '../protocol/events';

/** A message's @-mentions as LeanCloud's `mentionPids` / `mentionAll` fields (none when it has none). */
export function mentionsOf(m: MessageView): { mentionPids?: string[]; mentionAll?: true } {
  return { ...(m.mentions ? { mentionPids: m.mentions } : {}), ...(m.mentionAll ? { mentionAll: true as const } : {}) };
}

/** The LeanCloud command for a native event addressed to `peerId` (the client id), if any. */
export function leanCloudPush(e: ServerEvent, peerId: string): LcCommand | undefined {
  switch (e.event) {
    case 'message': {
      const m = e.message;
      return {
        cmd: 'direct',
        peerId,
        directMessage: {
          id: m.id,
          cid: m.cid,
          fromPeerId: m.from,
          timestamp: m.timestamp,
          msg: m.data,
          ...(m.transient ? { transient: true } : {}),
          ...(m.offline ? { offline: true } : {}),
          ...mentionsOf(m),
        },
      };
    }
    case 'messages':
      // Native clients only ask for batches; LeanCloud connections log in in unread mode.
      return undefined;
    case 'messageUpdated': {
      const m = e.message;
      const patch = {
        cid: m.cid,
        mid: m.id,
        timestamp: m.timestamp,
        recall: m.recalled === true,
        data: m.data,
        patchTimestamp: m.updatedAt,
        from: m.from,
      };
      return { cmd: 'patch', op: 'modify', peerId, patchMessage: { patches: [patch], lastPatchTime: m.updatedAt } };
    }
    case 'delivered':
      return { cmd: 'rcp', peerId, rcpMessage: { id: e.messageId, cid: e.cid, t: e.deliveredAt, read: false, from: e.by } };
    case 'read':
      // `t` is what the SDK keeps as lastReadAt: the read message's timestamp.
      return { cmd: 'rcp', peerId, rcpMessage: { id: e.messageId, cid: e.cid, t: e.readAt, read: true, from: e.by } };
    case 'invited':
      return { cmd: 'conv', op: 'joined', peerId, convMessage: { cid: e.cid, initBy: e.by } };
    case 'kicked':
      return { cmd: 'conv', op: 'left', peerId, convMessage: { cid: e.cid, initBy: e.by } };
    case 'membersAdded':
      return { cmd: 'conv', op: 'members_joined', peerId, convMessage: { cid: e.cid, m: e.members, initBy: e.by } };
    case 'membersRemoved':
      return { cmd: 'conv', op: 'members_left', peerId, convMessage: { cid: e.cid, m: e.members, initBy: e.by } };
    case 'updated': {
      // The SDK merges these columns into the conversation it holds.
      const columns = { ...e.attributes, name: e.name };
      return { cmd: 'conv', op: 'updated', peerId, convMessage: { cid: e.cid, attr: { data: JSON.stringify(columns) }, initBy: e.by } };
    }
    case 'closed':
      return { cmd: 'session', op: 'closed', peerId, sessionMessage: { code: e.code, reason: e.name } };
    case 'unread': {
      const convs = e.conversations.map((c) => ({
        cid: c.cid,
        unread: c.unread,
        ...(c.lastMessage
          ? {
              mid: c.lastMessage.id,
              timestamp: c.lastMessage.timestamp,
              from: c.lastMessage.from,
              data: c.lastMessage.data,
              ...(c.lastMessage.updatedAt !== undefined ? { patchTimestamp: c.lastMessage.updatedAt } : {}),
            }
          : {}),
        ...(c.mentioned ? { mentioned: true } : {}),
      }));
      return { cmd: 'unread', peerId, unreadMessage: { convs } };
    }
    default: {
      // Exhaustive: a new ServerEvent fails to compile here until it is mapped.
      const unmapped: never = e;
      void unmapped;
      return undefined;
    }
  }
}

/**
 * The text frame to post to a LeanCloud connection, or undefined when the event has no
 * equivalent. The protobuf codec is loaded on the first such frame: most invocations never
 * encode one, and protobufjs is then never evaluated.
 */
export async function leanCloudEncoder(event: ServerEvent, peerId: string): Promise<string | undefined> {
  const command = leanCloudPush(event, peerId);
  if (!command) return undefined;
  const { encodeFrame } = await import('./codec');
  // service 2 = IM (1 is LiveQuery): the Swift SDK drops pushes without it.
  return encodeFrame({ ...command, service: 2 });
}
