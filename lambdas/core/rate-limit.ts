/**
 * Per-client rate limits (PROTOCOL.md 4116): fixed 10-second windows counted in the `keys`
 * table with one atomic ADD per request, shared by every Lambda container. Sends and other
 * actions have separate budgets; a request over budget is refused before any work.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ImError } from './errors';
import type { Ctx } from './route';
import type { Action } from './schemas';

export const RATE_WINDOW_SECONDS = 10;

/** Never limited: keep-alive, login/logout, and acks (refusing an ack only causes redelivery). */
const EXEMPT = new Set<Action>(['ping', 'open', 'close', 'ack']);

export function rateBucket(action: Action): 'send' | 'other' | undefined {
  if (EXEMPT.has(action)) return undefined;
  return action === 'send' ? 'send' : 'other';
}

export type RateBucket = NonNullable<ReturnType<typeof rateBucket>>;

export async function enforceRateLimit(ctx: Ctx, action: Action, clientId: string): Promise<void> {
  const bucket = rateBucket(action);
  if (bucket) await spendRateBudget(ctx, bucket, clientId);
}

/** One request against a client's budget; 4116 when it is spent. */
export async function spendRateBudget(ctx: Ctx, bucket: RateBucket, clientId: string): Promise<void> {
  const limit = ctx.deps.config.rateLimits[bucket];
  if (limit <= 0) return;
  const { db, config } = ctx.deps;
  const window = Math.floor(ctx.now / 1000 / RATE_WINDOW_SECONDS);
  const res = await db.send(
    new UpdateCommand({
      TableName: config.tables.keys,
      Key: { k: `rate#${bucket}#${clientId}#${window}` },
      UpdateExpression: 'ADD n :one SET expiresAt = if_not_exists(expiresAt, :exp)',
      ExpressionAttributeValues: { ':one': 1, ':exp': (window + 2) * RATE_WINDOW_SECONDS },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  const n = (res.Attributes?.n as number | undefined) ?? 0;
  if (n > limit) {
    throw new ImError(
      'MESSAGE_SENT_QUOTA_EXCEEDED',
      `rate limit: at most ${limit} ${bucket === 'send' ? 'sends' : 'requests'} per ${RATE_WINDOW_SECONDS} s; retry later`,
    );
  }
}
