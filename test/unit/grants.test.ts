import { AccessDeniedError, grantCheck, type GrantViolation } from '../../local/grants';
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
