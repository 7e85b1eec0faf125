/** Embedded DynamoDB (dynalite) for the local runtime and tests, with the project's tables. */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { TABLES, TABLE_NAMES, type TableDef, type TableName } from '../lib/tables';

// dynalite ships no types (and no ES module): this is the slice of its API used here.
const dynalite = require('dynalite') as (opts: Record<string, unknown>) => {
  listen(port: number, host: string, cb: (err?: Error) => void): void;
  close(cb: (err?: Error) => void): void;
  address(): AddressInfo;
};

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
export const LOCAL_REGION = 'us-east-1';

export interface EmbeddedDynamo {
  endpoint: string;
  close(): Promise<void>;
}

/** `dataDir` = ':memory:' keeps nothing; any other path persists across restarts. */
export async function startDynamo(dataDir: string): Promise<EmbeddedDynamo> {
  const inMemory = dataDir === ':memory:';
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(inMemory ? {} : { path: dataDir }) });
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  const { port } = server.address();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function createTableInput(physicalName: string, def: TableDef): CreateTableCommandInput {
  const attrs = new Map<string, string>();
  const add = (k: { name: string; type: string } | undefined) => k && attrs.set(k.name, k.type);
  add(def.partitionKey);
  add(def.sortKey);
  for (const ix of def.indexes ?? []) {
    add(ix.partitionKey);
    add(ix.sortKey);
  }
  const keySchema = (pk: { name: string }, sk?: { name: string }) => [
    { AttributeName: pk.name, KeyType: 'HASH' as const },
    ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
  ];
  return {
    TableName: physicalName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attrs].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType: AttributeType as 'S' | 'N',
    })),
    KeySchema: keySchema(def.partitionKey, def.sortKey),
    ...(def.indexes?.length
      ? {
          GlobalSecondaryIndexes: def.indexes.map((ix) => ({
            IndexName: ix.name,
            KeySchema: keySchema(ix.partitionKey, ix.sortKey),
            Projection: { ProjectionType: ix.projection },
          })),
        }
      : {}),
  };
}

/** Table states a request can already use. */
const USABLE = new Set(['ACTIVE', 'UPDATING']);

/**
 * Creates every table that does not exist yet (existing ones are kept) and waits until each is
 * usable: dynalite is instant, DynamoDB Local nearly so, a real endpoint takes seconds.
 */
export async function ensureTables(endpoint: string, names: Record<TableName, string>, timeoutMs = 120_000): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    for (const t of TABLE_NAMES) {
      try {
        await client.send(new CreateTableCommand(createTableInput(names[t], TABLES[t])));
      } catch (err) {
        if (!(err instanceof ResourceInUseException)) throw err;
      }
    }
    const deadline = Date.now() + timeoutMs;
    for (const t of TABLE_NAMES) {
      for (;;) {
        const { Table } = await client.send(new DescribeTableCommand({ TableName: names[t] }));
        if (USABLE.has(Table?.TableStatus ?? '')) break;
        if (Date.now() > deadline) throw new Error(`table ${names[t]} at ${endpoint} is still ${Table?.TableStatus}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    client.destroy();
  }
}
