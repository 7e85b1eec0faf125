/**
 * Authorization matrix: every session action × {not opened, non-member, member, creator, another
 * client's connection claiming to be the creator} against a fresh normal conversation.
 */
import { TestClient, type Frame } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack();

type Role = 'not opened' | 'non-member' | 'member' | 'creator' | "another client's connection";
const ROLES: Role[] = ['not opened', 'non-member', 'member', 'creator', "another client's connection"];

/** Expected outcome per action: 'ok' or an error code, by role. */
const MATRIX: Record<string, Record<Role, 'ok' | number>> = {
  close: { 'not opened': 4105, 'non-member': 'ok', member: 'ok', creator: 'ok', "another client's connection": 'ok' },
  create: { 'not opened': 4105, 'non-member': 'ok', member: 'ok', creator: 'ok', "another client's connection": 'ok' },
  send: { 'not opened': 4105, 'non-member': 4401, member: 'ok', creator: 'ok', "another client's connection": 4401 },
  ack: { 'not opened': 4105, 'non-member': 'ok', member: 'ok', creator: 'ok', "another client's connection": 'ok' },
  read: { 'not opened': 4105, 'non-member': 4320, member: 'ok', creator: 'ok', "another client's connection": 4320 },
  query: { 'not opened': 4105, 'non-member': 4312, member: 'ok', creator: 'ok', "another client's connection": 4312 },
  join: { 'not opened': 4105, 'non-member': 'ok', member: 'ok', creator: 'ok', "another client's connection": 'ok' },
  quit: { 'not opened': 4105, 'non-member': 'ok', member: 'ok', creator: 'ok', "another client's connection": 'ok' },
  invite: { 'not opened': 4105, 'non-member': 4320, member: 'ok', creator: 'ok', "another client's connection": 4320 },
  kick: { 'not opened': 4105, 'non-member': 4320, member: 4320, creator: 'ok', "another client's connection": 4320 },
  mute: { 'not opened': 4105, 'non-member': 4320, member: 'ok', creator: 'ok', "another client's connection": 4320 },
  unmute: { 'not opened': 4105, 'non-member': 4320, member: 'ok', creator: 'ok', "another client's connection": 4320 },
  count: { 'not opened': 4105, 'non-member': 'ok', member: 'ok', creator: 'ok', "another client's connection": 'ok' },
  find: { 'not opened': 4105, 'non-member': 'ok', member: 'ok', creator: 'ok', "another client's connection": 'ok' },
  update: { 'not opened': 4105, 'non-member': 4320, member: 'ok', creator: 'ok', "another client's connection": 4320 },
  // The creator sent the message: only it may change it.
  edit: { 'not opened': 4105, 'non-member': 4401, member: 4403, creator: 'ok', "another client's connection": 4401 },
  recall: { 'not opened': 4105, 'non-member': 4401, member: 4403, creator: 'ok', "another client's connection": 4401 },
};

const CASES = Object.keys(MATRIX).flatMap((action) => ROLES.map((role) => [action, role, MATRIX[action]![role]] as const));

test.each(CASES)('%s as %s → %s', async (action, role, expected) => {
  const [Tom, Bob, Eve, Ann] = h.names('Tom', 'Bob', 'Eve', 'Ann');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
  const sent = await tom.ok('send', { cid, data: 'hello' });
  const actor =
    role === 'not opened'
      ? h.track(await TestClient.connect(h.url))
      : role === 'creator'
        ? tom
        : h.track(await TestClient.open(h.url, role === 'member' ? Bob : Eve));
  // A connection of another client claiming the creator's identity in every way a frame can.
  const spoof: Frame = role === "another client's connection" ? { clientId: Tom, from: Tom, by: Tom, creator: Tom } : {};
  const fields: Record<string, Frame> = {
    close: {},
    create: { members: [Ann] },
    send: { cid, data: 'x' },
    ack: { cid, messageIds: [sent.messageId] },
    read: { cid },
    query: { cid },
    join: { cid },
    quit: { cid },
    invite: { cid, members: [Ann] },
    kick: { cid, members: [Bob] },
    mute: { cid },
    unmute: { cid },
    count: { cid },
    find: { where: { cid } },
    update: { cid, name: 'renamed' },
    edit: { cid, messageId: sent.messageId, data: 'edited' },
    recall: { cid, messageId: sent.messageId },
  };
  const r = await actor.request(action, { ...fields[action], ...spoof });
  expect(r.ok ? 'ok' : r.error?.code).toBe(expected);
});

test('the matrix covers every session action of the route table', async () => {
  const { ROUTES } = await import('../../lib/routes');
  const sessionActions = ROUTES.map((r) => r.routeKey).filter((k) => !k.startsWith('$') && k !== 'ping' && k !== 'open');
  expect(Object.keys(MATRIX).sort()).toEqual(sessionActions.sort());
});
