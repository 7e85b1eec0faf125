/** DynamoDB access helpers: the document client plus paging that is always followed to the end. */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';

export type Item = Record<string, unknown>;
export type Db = DynamoDBDocumentClient;

/**
 * `onRequest` sees every DynamoDB API call by operation name and low-level input (after
 * document-client translation) before it is sent: the benchmark counts requests with it, and the
 * local runtime checks each call against the route's grants (it may throw to refuse the call).
 */
export function createDb(config: DynamoDBClientConfig = {}, onRequest?: (operation: string, input: Item) => void): Db {
  const client = new DynamoDBClient(config);
  if (onRequest) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        onRequest(String(context.commandName ?? 'unknown').replace(/Command$/, ''), args.input as Item);
        return next(args);
      },
      { step: 'initialize', name: 'imRequestCounter' },
    );
  }
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function backoff(attempt: number): number {
  // Full jitter, capped: unprocessed keys mean the table is throttling us.
  return Math.random() * Math.min(1000, 25 * 2 ** attempt);
}

/** BatchGetItem over any number of keys: chunks of 100 and retries of UnprocessedKeys. */
export async function batchGetAll(
  db: Db,
  table: string,
  keys: Item[],
  opts: { projection?: string; names?: Record<string, string>; consistent?: boolean } = {},
): Promise<Item[]> {
  const out: Item[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Item[] | undefined = keys.slice(i, i + 100);
    for (let attempt = 0; pending && pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoff(attempt));
      if (attempt > 8) throw new Error(`BatchGetItem on ${table}: keys still unprocessed after retries`);
      const res = await db.send(
        new BatchGetCommand({
          RequestItems: {
            [table]: {
              Keys: pending,
              ProjectionExpression: opts.projection,
              ExpressionAttributeNames: opts.names,
              ConsistentRead: opts.consistent,
            },
          },
        }),
      );
      out.push(...((res.Responses?.[table] ?? []) as Item[]));
      pending = res.UnprocessedKeys?.[table]?.Keys as Item[] | undefined;
    }
  }
  return out;
}

/** BatchWriteItem puts in chunks of 25, retrying UnprocessedItems. */
export async function batchPutAll(db: Db, table: string, items: Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let pending: { PutRequest?: { Item: Item } }[] | undefined = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending && pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoff(attempt));
      if (attempt > 8) throw new Error(`BatchWriteItem on ${table}: items still unprocessed after retries`);
      const res = await db.send(new BatchWriteCommand({ RequestItems: { [table]: pending as never } }));
      pending = res.UnprocessedItems?.[table] as typeof pending;
    }
  }
}

/** Query following LastEvaluatedKey until `max` items (or the end) are read. */
export async function queryAll(db: Db, input: QueryCommandInput, max = Infinity): Promise<Item[]> {
  const out: Item[] = [];
  let start: Item | undefined;
  do {
    const res = await db.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    out.push(...((res.Items ?? []) as Item[]));
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start && out.length < max);
  return out;
}

/** Counts what a Query matches (Select COUNT), following every page. */
export async function countAll(db: Db, input: Omit<QueryCommandInput, 'Select' | 'ExclusiveStartKey'>): Promise<number> {
  let count = 0;
  let start: Item | undefined;
  do {
    const res = await db.send(new QueryCommand({ ...input, Select: 'COUNT', ExclusiveStartKey: start }));
    count += res.Count ?? 0;
    start = res.LastEvaluatedKey as Item | undefined;
  } while (start);
  return count;
}

/** TTL attributes (`expiresAt`) hold epoch seconds, as DynamoDB's TTL expects. */
export const epochSeconds = (ms: number): number => Math.floor(ms / 1000);

/** An item's TTL attribute is still ahead of `nowMs`: TTL deletion on AWS lags by up to days, so expired items are treated as absent. */
export const isUnexpired = (expiresAt: unknown, nowMs: number): boolean => typeof expiresAt === 'number' && expiresAt > epochSeconds(nowMs);

/**
 * Sets `item[mapAttr][entryKey] = value` (plus top-level `also` attributes), creating the item
 * when it does not exist. A map entry can only be set inside an existing map, so a missing item
 * is created with a conditional put; a racing creator makes the update run again.
 */
export async function setMapEntry(
  db: Db,
  table: string,
  key: Item,
  mapAttr: string,
  entryKey: string,
  value: unknown,
  also: Item = {},
): Promise<void> {
  const alsoNames = Object.keys(also);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await db.send(
        new UpdateCommand({
          TableName: table,
          Key: key,
          UpdateExpression: ['SET #m.#k = :v', ...alsoNames.map((_, i) => `#a${i} = :a${i}`)].join(', '),
          ConditionExpression: 'attribute_exists(#m)',
          ExpressionAttributeNames: { '#m': mapAttr, '#k': entryKey, ...Object.fromEntries(alsoNames.map((n, i) => [`#a${i}`, n])) },
          ExpressionAttributeValues: { ':v': value, ...Object.fromEntries(alsoNames.map((n, i) => [`:a${i}`, also[n]])) },
        }),
      );
      return;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
    }
    const [pk] = Object.keys(key);
    try {
      await db.send(
        new PutCommand({
          TableName: table,
          Item: { ...key, ...also, [mapAttr]: { [entryKey]: value } },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': pk! },
        }),
      );
      return;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
    }
  }
  throw new Error(`${table} item kept changing under concurrent writers`);
}

/** DynamoDB's conditional-write failure, recognised by name as SDK v3 recommends. */
export function isConditionFailed(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

/**
 * Runs a conditional write: true if it was applied, false if its condition did not hold.
 * Every other failure propagates.
 */
export async function applied(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (isConditionFailed(err)) return false;
    throw err;
  }
}
