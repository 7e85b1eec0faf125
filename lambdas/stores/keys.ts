/**
 * Idempotency and uniqueness keys (`keys` table), claimed with conditional puts because the
 * embedded DynamoDB has no transactions. Expired keys still present are treated as free.
 */
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type Item, applied } from './dynamo';
import type { Ctx } from '../domain/context';

const nowSeconds = (ctx: Ctx) => Math.floor(ctx.now / 1000);

export async function getKey(ctx: Ctx, k: string): Promise<Item | undefined> {
  const { db, config } = ctx.deps;
  const res = await db.send(new GetCommand({ TableName: config.tables.keys, Key: { k }, ConsistentRead: true }));
  const item = res.Item;
  if (item && typeof item.expiresAt === 'number' && item.expiresAt <= nowSeconds(ctx)) return undefined;
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
  if (opts.ttlSeconds) item.expiresAt = nowSeconds(ctx) + opts.ttlSeconds;
  const conditions = ['attribute_not_exists(k)', 'expiresAt <= :now'];
  const values: Item = { ':now': nowSeconds(ctx) };
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
