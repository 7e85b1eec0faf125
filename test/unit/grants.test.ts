import { AccessDeniedError, grantCheck, scopedPorts, type GrantViolation } from '../../local/grants';
import type { Grants } from '../../lib/routes';

const physical = {
  connections: 'p-connections',
  presence: 'p-presence',
  conversations: 'p-conversations',
  members: 'p-members',
  messages: 'p-messages',
  rooms: 'p-rooms',
  devices: 'p-devices',
  keys: 'p-keys',
};

function checker(grants: Grants) {
  const seen: GrantViolation[] = [];
  return { check: grantCheck('send', grants, physical, (v) => seen.push(v)), seen };
}

describe('the local check of route grants', () => {
  const grants: Grants = {
    tables: { messages: 'rw', members: 'r' },
    indexes: ['members.byClient', 'conversations.byName'],
    scans: ['members'],
  };

  test('calls inside the grants pass', () => {
    const { check, seen } = checker(grants);
    check('PutItem', { TableName: 'p-messages' });
    check('Query', { TableName: 'p-members' });
    check('Query', { TableName: 'p-members', IndexName: 'byClient' });
    check('Scan', { TableName: 'p-members' });
    check('BatchGetItem', { RequestItems: { 'p-members': {}, 'p-messages': {} } });
    expect(seen).toEqual([]);
  });

  test.each([
    ['a write with read access', 'UpdateItem', { TableName: 'p-members' }, { table: 'members' }],
    ['a table not granted', 'GetItem', { TableName: 'p-keys' }, { table: 'keys' }],
    ['an index not granted', 'Query', { TableName: 'p-messages', IndexName: 'byUpdate' }, { table: 'messages', index: 'byUpdate' }],
    ['a scan not granted', 'Scan', { TableName: 'p-messages' }, { table: 'messages' }],
    ['one table of a batch', 'BatchWriteItem', { RequestItems: { 'p-messages': [], 'p-rooms': [] } }, { table: 'rooms' }],
    ['a transaction (never granted)', 'TransactWriteItems', { TransactItems: [] }, { table: '*' }],
    ['PartiQL (never granted)', 'ExecuteStatement', { Statement: 'SELECT * FROM "p-messages"' }, { table: '*' }],
    [
      'an index of a table not listed',
      'Query',
      { TableName: 'p-conversations', IndexName: 'byName' },
      { table: 'conversations', index: 'byName' },
    ],
    ['a scan of an index', 'Scan', { TableName: 'p-members', IndexName: 'byClient' }, { table: 'members', index: 'byClient' }],
  ])('%s is refused like AWS refuses it, and reported', (_what, operation, input, where) => {
    const { check, seen } = checker(grants);
    expect(() => check(operation, input)).toThrow(AccessDeniedError);
    expect(seen).toEqual([{ scope: 'send', operation, ...where }]);
  });
});

describe('the local check of posting, SNS and worker grants', () => {
  const calls: string[] = [];
  const deps = {
    gatewayFor: () => ({ post: async () => (calls.push('post'), 'ok' as const), disconnect: async () => void calls.push('disconnect') }),
    push: {
      ensureEndpoint: async () => (calls.push('ensure'), 'arn:endpoint'),
      deleteEndpoint: async () => void calls.push('delete'),
      publish: async () => (calls.push('publish'), { published: true as const }),
    },
    invokeWorker: async () => void calls.push('invoke'),
  };

  test('what the route line grants passes through', async () => {
    const seen: GrantViolation[] = [];
    const ports = scopedPorts('send', { postsToConnections: true, invokes: ['push'] }, deps, (v) => seen.push(v));
    await ports.gatewayFor({}).post('c1', 'x');
    await ports.invokeWorker('push', {});
    expect(seen).toEqual([]);
  });

  test.each([
    [
      'posting without postsToConnections',
      (p: ReturnType<typeof scopedPorts>) => p.gatewayFor({}).post('c1', 'x'),
      'execute-api:ManageConnections (POST)',
    ],
    ['publishing without sns Publish', (p: ReturnType<typeof scopedPorts>) => p.push!.publish('arn', '{}'), 'sns:Publish'],
    ['starting a worker not in invokes', (p: ReturnType<typeof scopedPorts>) => p.invokeWorker('push', {}), 'lambda:InvokeFunction (push)'],
    [
      'taking over a moved token without DeleteEndpoint',
      (p: ReturnType<typeof scopedPorts>) => p.push!.ensureEndpoint('app', 't', 'c', { moved: true }),
      'sns:DeleteEndpoint',
    ],
  ])('%s is refused and reported', async (_what, call, operation) => {
    const seen: GrantViolation[] = [];
    const ports = scopedPorts('open', { sns: ['CreatePlatformEndpoint', 'GetEndpointAttributes', 'SetEndpointAttributes'] }, deps, (v) =>
      seen.push(v),
    );
    await expect(call(ports)).rejects.toThrow(AccessDeniedError);
    expect(seen).toEqual([{ scope: 'open', operation }]);
  });
});
