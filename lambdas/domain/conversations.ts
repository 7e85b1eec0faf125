/** Creating conversations (docs/protocol.md §6). */
import { createHash } from 'node:crypto';
import { getConversation, putConversation, type ConversationRecord } from '../stores/conversations';
import { memberIds, newMember, putMembers } from '../stores/members';
import { type ConversationView } from '../protocol/views';
import { conversationView, type ConversationResult } from './conversation-view';
import { MAX_MEMBERS } from './seats';
import { sendToClients } from './fan-out';
import { ImError } from '../protocol/errors';
import { newConversationId } from './ids';
import { claimKey, getKey } from '../stores/keys';
import type { Ctx } from './context';
import { jsonBytes, type Request } from '../protocol/schemas';
import type { Session } from './session';
import { enterRoom } from './rooms';
import { verifySignature } from './signatures';

export const MAX_ATTRIBUTES_BYTES = 4096;

export function checkAttributesSize(attributes: Record<string, unknown>): void {
  const size = jsonBytes(attributes);
  if (size > MAX_ATTRIBUTES_BYTES) {
    throw new ImError('FRAME_TOO_LONG', `attributes are ${size} bytes serialized; the limit is ${MAX_ATTRIBUTES_BYTES}`);
  }
}

function uniqueKey(members: string[]): string {
  const digest = createHash('sha256')
    .update([...members].sort().join('\n'))
    .digest('hex');
  return `unique#${digest}`;
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

/** A claimed unique key whose conversation is still missing after this long was abandoned. */
const UNIQUE_CLAIM_GRACE_MS = 10_000;

type UniqueLookup = { view?: ConversationView; staleCid?: string; pending?: boolean };

/** The existing unique conversation for this member set, if the key still describes it. */
async function findUnique(ctx: Ctx, key: string, members: string[]): Promise<UniqueLookup> {
  const claim = await getKey(ctx, key);
  if (!claim) return {};
  const cid = claim.cid as string;
  const conv = await getConversation(ctx, cid);
  if (conv) {
    const current = await memberIds(ctx, cid);
    // Membership may have changed since: then the key no longer names this set.
    if (sameSet(current, members)) return { view: conversationView(conv, current, false) };
    return { staleCid: cid };
  }
  // Another create may be writing this conversation right now; a crashed one left it for good.
  const claimedAt = typeof claim.claimedAt === 'number' ? claim.claimedAt : 0;
  return ctx.deps.now() - claimedAt < UNIQUE_CLAIM_GRACE_MS ? { pending: true } : { staleCid: cid };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A conversation as created now, before any message. */
function newConversation(
  ctx: Ctx,
  cid: string,
  creator: string,
  name: string | null | undefined,
  attributes: Record<string, unknown>,
  kind: Pick<ConversationRecord, 'transient' | 'unique' | 'memberCount'>,
): ConversationRecord {
  return {
    cid,
    // An empty name is stored as none: `name` keys the byName index, which takes no empty strings.
    ...(name ? { name } : {}),
    creator,
    attributes,
    ...kind,
    createdAt: ctx.now,
    updatedAt: ctx.now,
    lastMessageAt: null,
    lastSeq: 0,
  };
}

/** A chat room: no members (any given are ignored); the creator's connection enters it. */
async function createRoom(
  ctx: Ctx,
  req: Request<'create'>,
  session: Session,
  attributes: Record<string, unknown>,
): Promise<ConversationResult> {
  await verifySignature(ctx, 'create', session.clientId, req.signature, { members: req.members ?? [] });
  const record = newConversation(ctx, newConversationId(ctx.now), session.clientId, req.name, attributes, {
    transient: true,
    unique: false,
    memberCount: 0,
  });
  await putConversation(ctx, record);
  await enterRoom(ctx, session, record.cid);
  return { conversation: conversationView(record, undefined, false) };
}

export async function createConversation(ctx: Ctx, req: Request<'create'>, session: Session): Promise<ConversationResult> {
  const me = session.clientId;
  const attributes = req.attributes ?? {};
  checkAttributesSize(attributes);
  if (req.transient) return createRoom(ctx, req, session, attributes);
  const members = [...new Set([me, ...(req.members ?? [])])];
  if (members.length > MAX_MEMBERS) {
    throw new ImError('CONVERSATION_FULL', `a conversation has at most ${MAX_MEMBERS} members (got ${members.length})`);
  }
  await verifySignature(ctx, 'create', me, req.signature, { members: req.members ?? [] });

  const cid = newConversationId(ctx.now);
  if (req.unique) {
    const key = uniqueKey(members);
    // A racing creator may claim the key between our read and our write, or still be writing
    // the conversation it claimed: look again, backing off, for a bounded time.
    for (let round = 0; ; round++) {
      if (round > 12) throw new Error('unique conversation key stayed contended');
      const found = await findUnique(ctx, key, members);
      if (found.view) return { conversation: found.view };
      if (found.pending) {
        await sleep(Math.min(500, 20 * 2 ** round));
        continue;
      }
      const replacing = found.staleCid ? { field: 'cid', value: found.staleCid } : undefined;
      if (await claimKey(ctx, key, { cid, claimedAt: ctx.deps.now() }, { replacing })) break;
    }
  }

  const record = newConversation(ctx, cid, me, req.name, attributes, {
    transient: false,
    unique: req.unique === true,
    memberCount: members.length,
  });
  // Members first: a crash before the conversation item leaves only unreachable member rows,
  // never a conversation with missing members.
  await putMembers(
    ctx,
    members.map((m) => newMember(cid, m, ctx.now, 0)),
  );
  await putConversation(ctx, record);
  const view = conversationView(record, members, false);

  if (members.length > 1) {
    await sendToClients(ctx, members, { event: 'invited', cid, by: me, conversation: view });
  }
  return { conversation: view };
}
