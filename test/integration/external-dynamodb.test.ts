/**
 * `npm start` against an external DynamoDB (IM_DYNAMODB_ENDPOINT): here a dynalite of the test's
 * own, standing in for DynamoDB Local or a test proxy. The tables are created there,
 * everything is stored there, and a second server on the same endpoint sees it.
 */
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamo, type EmbeddedDynamo } from '../../local/dynamo';
import { TABLE_NAMES } from '../../lib/tables';
import { TestClient } from '../helpers/client';
import { crash, killAllServers, startServer } from '../helpers/server-process';

let external: EmbeddedDynamo;
beforeAll(async () => {
  external = await startDynamo(':memory:');
});
afterAll(async () => {
  await killAllServers();
  await external.close();
});

test('tables are created on the external endpoint and data survives a restart of the server', async () => {
  const env = { IM_DYNAMODB_ENDPOINT: external.endpoint };
  // The data dir must not matter: nothing is written to it.
  let server = await startServer('/nonexistent/im-data', env);
  const client = new DynamoDBClient({ endpoint: external.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const { TableNames } = await client.send(new ListTablesCommand({}));
  expect([...(TableNames ?? [])].sort()).toEqual(TABLE_NAMES.map((t) => `im-${t}`).sort());
  client.destroy();

  const tom = await TestClient.open(server.url, 'Tom');
  const cid = ((await tom.ok('create', { members: ['Bob'] })).conversation as { cid: string }).cid;
  const sent = await tom.ok('send', { cid, data: 'stored elsewhere' });
  await tom.close();
  await crash(server);

  server = await startServer('/nonexistent/im-data', env);
  const bob = await TestClient.open(server.url, 'Bob');
  const history = (await bob.ok('query', { cid })).messages as { id: string; data: string }[];
  expect(history.map((m) => [m.id, m.data])).toEqual([[sent.messageId, 'stored elsewhere']]);
  await bob.close();
});
