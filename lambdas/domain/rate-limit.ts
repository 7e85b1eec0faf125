/**
 * Per-client rate limits (docs/protocol.md §13.1): fixed 10-second windows counted in the `keys`
 * table with one atomic ADD per request, shared by every Lambda container. Sends and other
 * actions have separate budgets, `open` one per client and connection; a request over budget is
 * refused before any work.
 */
import { socketOf } from '../gateways/connection-gateway';
import { ImError } from '../protocol/errors';
import { incrementCounter } from '../stores/keys';
import type { Config, Ctx } from './context';
import type { Action } from '../protocol/schemas';

export const RATE_WINDOW_SECONDS = 10;

/**
 * Outside the per-client budgets: keep-alive, logout, acks (refusing an ack only causes
 * redelivery), and login, which has a budget of its own (`spendOpenBudget`): a client must be
 * able to log in on a new connection however busy its others are.
 */
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
  await spend(ctx, bucket, clientId, bucket === 'send' ? 'sends' : 'requests');
}

/**
 * One `open` (or LeanCloud `session/open`) against the budget of that client on this connection
 * (the socket, for LeanCloud clients sharing one). Spent before the signature is checked, so
 * that failing opens are bounded too. A client that behaves opens once or a few times per
 * connection (again to register a new device token), so the default is far above that.
 */
export async function spendOpenBudget(ctx: Ctx, clientId: string): Promise<void> {
  await spend(ctx, 'open', `${clientId}#${socketOf(ctx.connectionId)}`, 'opens of a client on one connection');
}

async function spend(ctx: Ctx, bucket: keyof Config['rateLimits'], subject: string, what: string): Promise<void> {
  const limit = ctx.deps.config.rateLimits[bucket];
  if (limit <= 0) return;
  const window = Math.floor(ctx.now / 1000 / RATE_WINDOW_SECONDS);
  const n = await incrementCounter(ctx, `rate#${bucket}#${subject}#${window}`, (window + 2) * RATE_WINDOW_SECONDS);
  if (n > limit) {
    throw new ImError('MESSAGE_SENT_QUOTA_EXCEEDED', `rate limit: at most ${limit} ${what} per ${RATE_WINDOW_SECONDS} s; retry later`);
  }
}
