import { configFromEnv } from '../../lambdas/runtime/config';
import { mapLimit } from '../../lambdas/domain/concurrency';
import { createTableInput } from '../../local/dynamo';
import { TABLES } from '../../lib/tables';

test('configuration defaults follow docs/protocol.md §14', () => {
  const c = configFromEnv({});
  expect(c).toMatchObject({
    appId: 'local-app',
    signatureRequired: false,
    maxMessageBytes: 5120,
    pushAlert: '您有新的消息',
    kickPolicy: 'creator',
  });
  expect(c.tables.messages).toBe('im-messages');
});

test('configuration from the environment; nonsense falls back to defaults', () => {
  const c = configFromEnv({
    IM_APP_ID: 'app',
    IM_SIGNATURE_REQUIRED: 'true',
    IM_MAX_MESSAGE_BYTES: '100',
    IM_KICK_POLICY: 'member',
    IM_TABLE_MESSAGES: 'Stack-Messages-XYZ',
  });
  expect(c).toMatchObject({ appId: 'app', signatureRequired: true, maxMessageBytes: 100, kickPolicy: 'member' });
  expect(c.tables.messages).toBe('Stack-Messages-XYZ');
  expect(configFromEnv({ IM_MAX_MESSAGE_BYTES: '-5', IM_KICK_POLICY: 'anyone' })).toMatchObject({
    maxMessageBytes: 5120,
    kickPolicy: 'creator',
  });
});

test('mapLimit keeps order and never exceeds the limit', async () => {
  let inFlight = 0;
  let peak = 0;
  const out = await mapLimit([...Array(50).keys()], 4, async (i) => {
    peak = Math.max(peak, ++inFlight);
    await new Promise((r) => setTimeout(r, 1));
    inFlight--;
    return i * 2;
  });
  expect(out).toEqual([...Array(50).keys()].map((i) => i * 2));
  expect(peak).toBe(4);
});

test('local tables are created from the same definitions as the stack', () => {
  const input = createTableInput('im-members', TABLES.members);
  expect(input.KeySchema).toEqual([
    { AttributeName: 'cid', KeyType: 'HASH' },
    { AttributeName: 'clientId', KeyType: 'RANGE' },
  ]);
  expect(input.GlobalSecondaryIndexes?.[0]).toMatchObject({
    IndexName: 'byClient',
    KeySchema: [
      { AttributeName: 'clientId', KeyType: 'HASH' },
      { AttributeName: 'cid', KeyType: 'RANGE' },
    ],
  });
  expect(input.AttributeDefinitions).toHaveLength(2);
});
