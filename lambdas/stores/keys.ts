/**
 * Idempotency and uniqueness keys (`keys` table), claimed with conditional puts because the
 * embedded DynamoDB has no transactions. Expired keys still present are treated as free. The
 * same table holds the owners of push tokens and the rate-limit counters; callers name the keys
 * (`<kind>#…`), so kinds never collide.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Item, applied, batchGetAll, epochSeconds } from './dynamo';
import type { Ctx } from '../domain/context';

export async function getKey(ctx: Ctx, k: string): Promise<Item | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.keys, Key: { k }, ConsistentRead: true }));
  const item = res.Item;
  if (item && typeof item.expiresAt === 'number' && item.expiresAt <= epochSeconds(ctx.now)) return undefined;
  return item;
}

/**
 * Writes `k` unless a live claim exists. `replacing` names a stale value of `cid`-like field the
 * caller has proven invalid, which may be overwritten. Returns false when someone else holds it.
 */
export async function claimKey(
  ctx: Ctx,
  k: string,
  value: Item,
  opts: { ttlSeconds?: number; replacing?: { field: string; value: unknown } } = {},
): Promise<boolean> {
  const { db, config } = ctx.deps;
  const item: Item = { ...value, k };
  if (opts.ttlSeconds) item.expiresAt = epochSeconds(ctx.now) + opts.ttlSeconds;
  const conditions = ['attribute_not_exists(k)', 'expiresAt <= :now'];
  const values: Item = { ':now': epochSeconds(ctx.now) };
  const names: Record<string, string> = {};
  if (opts.replacing) {
    conditions.push('#rf = :rv');
    names['#rf'] = opts.replacing.field;
    values[':rv'] = opts.replacing.value;
  }
  return applied(
    db.send(
      new PutCommand({
        TableName: config.tables.keys,
        Item: item,
        ConditionExpression: conditions.join(' OR '),
        ExpressionAttributeValues: values,
        ...(opts.replacing ? { ExpressionAttributeNames: names } : {}),
      }),
    ),
  );
}

export async function deleteKey(ctx: Ctx, k: string): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(new DeleteCommand({ TableName: config.tables.keys, Key: { k } }));
}

/** The `keys` item naming which client (and which of its devices) a push token belongs to. */
export interface TokenOwner {
  clientId: string;
  deviceKey: string;
}

/** A token's owner as last written (strongly consistent: a move that has finished is seen). */
export async function getTokenOwner(ctx: Ctx, k: string): Promise<TokenOwner | undefined> {
  const { db, config } = ctx.deps;
  return (await db.send(new GetCommand({ TableName: config.tables.keys, Key: { k }, ConsistentRead: true }))).Item as
    TokenOwner | undefined;
}

/** Makes `owner` the token's owner, whoever owned it before (the latest presenter wins). */
export async function setTokenOwner(ctx: Ctx, k: string, owner: TokenOwner): Promise<void> {
  const { db, config } = ctx.deps;
  await db.send(new PutCommand({ TableName: config.tables.keys, Item: { k, clientId: owner.clientId, deviceKey: owner.deviceKey } }));
}

/** Removes the token's owner only while it is still `owner`: the token may have moved on since. */
export async function releaseTokenOwner(ctx: Ctx, k: string, owner: TokenOwner): Promise<boolean> {
  const { db, config } = ctx.deps;
  return applied(
    db.send(
      new DeleteCommand({
        TableName: config.tables.keys,
        Key: { k },
        ConditionExpression: 'clientId = :c AND deviceKey = :d',
        ExpressionAttributeValues: { ':c': owner.clientId, ':d': owner.deviceKey },
      }),
    ),
  );
}

/** The owners of many tokens by key, read strongly consistent (one BatchGetItem per 100). */
export async function tokenOwners(ctx: Ctx, keys: string[]): Promise<Map<string, TokenOwner>> {
  const { db, config } = ctx.deps;
  const items = await batchGetAll(
    db,
    config.tables.keys,
    keys.map((k) => ({ k })),
    { consistent: true },
  );
  return new Map(
    items.map((i): [string, TokenOwner] => [i.k as string, { clientId: i.clientId as string, deviceKey: i.deviceKey as string }]),
  );
}

/**
 * Counts one more request on the counter `k` (created at 1, with `expiresAt` for TTL), atomically
 * however many containers count at once. Returns the count after this one.
 */
export async function incrementCounter(ctx: Ctx, k: string, expiresAt: number): Promise<number> {
  const { db, config } = ctx.deps;
  const res = await db.send(
    new UpdateCommand({
      TableName: config.tables.keys,
      Key: { k },
      UpdateExpression: 'ADD n :one SET expiresAt = if_not_exists(expiresAt, :exp)',
      ExpressionAttributeValues: { ':one': 1, ':exp': expiresAt },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  return (res.Attributes?.n as number | undefined) ?? 0;
}
