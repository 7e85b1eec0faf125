/** Conversations and members in DynamoDB, and the conversation object clients see. */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { batchPutAll, queryAll } from '../adapters/dynamo';
import type { Ctx } from './route';

export interface ConversationRecord {
  cid: string;
  name: string | null;
  creator: string;
  attributes: Record<string, unknown>;
  transient: boolean;
  unique: boolean;
  createdAt: number;
  updatedAt: number;
  lastMessageAt: number | null;
  /** Sequence number of the newest stored message (0 when none). */
  lastSeq: number;
}

export interface MemberRecord {
  cid: string;
  clientId: string;
  joinedAt: number;
  /** Conversation's lastSeq when the member joined: earlier messages are history. */
  joinedSeq: number;
  /** Highest acked sequence number: offline delivery resumes after it. */
  deliveredSeq: number;
  readSeq: number;
  muted: boolean;
}

/** The wire shape (PROTOCOL.md §3). */
export interface ConversationView {
  cid: string;
  name: string | null;
  creator: string;
  members?: string[];
  attributes: Record<string, unknown>;
  transient: boolean;
  unique: boolean;
  createdAt: number;
  updatedAt: number;
  lastMessageAt: number | null;
  muted: boolean;
}

export function conversationView(c: ConversationRecord, members: string[] | undefined, muted: boolean): ConversationView {
  return {
    cid: c.cid,
    name: c.name ?? null,
    creator: c.creator,
    ...(c.transient ? {} : { members: members ?? [] }),
    attributes: c.attributes ?? {},
    transient: c.transient === true,
    unique: c.unique === true,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    lastMessageAt: c.lastMessageAt ?? null,
    muted,
  };
}

export async function getConversation(ctx: Ctx, cid: string): Promise<ConversationRecord | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.conversations, Key: { cid }, ConsistentRead: true }));
  return res.Item as ConversationRecord | undefined;
}

/** Fails with ConditionalCheckFailedException if the cid is taken. */
export async function putConversation(ctx: Ctx, c: ConversationRecord): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(
    new PutCommand({ TableName: config.tables.conversations, Item: c, ConditionExpression: 'attribute_not_exists(cid)' }),
  );
}

export function newMember(cid: string, clientId: string, now: number, joinedSeq: number): MemberRecord {
  return { cid, clientId, joinedAt: now, joinedSeq, deliveredSeq: joinedSeq, readSeq: joinedSeq, muted: false };
}

export async function putMembers(ctx: Ctx, members: MemberRecord[]): Promise<void> {
  const { db, config } = ctx.deps;
  await batchPutAll(db, config.tables.members, members as unknown as Record<string, unknown>[]);
}

export async function getMember(ctx: Ctx, cid: string, clientId: string): Promise<MemberRecord | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(
    new GetCommand({ TableName: config.tables.members, Key: { cid, clientId }, ConsistentRead: true }),
  );
  return res.Item as MemberRecord | undefined;
}

/** All member client ids of a conversation (strongly consistent, every page). */
export async function memberIds(ctx: Ctx, cid: string): Promise<string[]> {
  const { db, config } = ctx.deps;
  const items = await queryAll(db, {
    TableName: config.tables.members,
    KeyConditionExpression: 'cid = :cid',
    ExpressionAttributeValues: { ':cid': cid },
    ProjectionExpression: 'clientId',
    ConsistentRead: true,
  });
  return items.map((i) => i.clientId as string);
}

/** Memberships of one client through the `byClient` index (eventually consistent). */
export async function membershipsOf(ctx: Ctx, clientId: string): Promise<MemberRecord[]> {
  const { db, config } = ctx.deps;
  const items = await queryAll(db, {
    TableName: config.tables.members,
    IndexName: 'byClient',
    KeyConditionExpression: 'clientId = :c',
    ExpressionAttributeValues: { ':c': clientId },
  });
  return items as unknown as MemberRecord[];
}
