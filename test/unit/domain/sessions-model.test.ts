/** The session a connection record stands for, as every session-bound action sees it. */
import { sessionOf } from '../../../lambdas/domain/session';
import { ImError } from '../../../lambdas/protocol/errors';
import type { ConnectionRecord } from '../../../lambdas/stores/connections';

const record = (fields: Partial<ConnectionRecord> = {}): ConnectionRecord => ({
  connectionId: 'c1=',
  connectedAt: 1,
  expiresAt: 2_000_000_000,
  ...fields,
});

test('no record, or one no open bound, is 4105', () => {
  for (const conn of [undefined, record()]) {
    let thrown: unknown;
    try {
      sessionOf({ connectionId: 'c1=' }, conn);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ImError);
    expect((thrown as ImError).toBody()).toMatchObject({ code: 4105, name: 'SESSION_REQUIRED' });
  }
});

test('a bound record: the session of the connection acted on', () => {
  expect(
    sessionOf({ connectionId: 'c1=#bob' }, record({ clientId: 'bob', tag: 't', deviceId: 'd', unreadMode: true, room: 'r1' })),
  ).toEqual({
    clientId: 'bob',
    connectionId: 'c1=#bob',
    tag: 't',
    deviceId: 'd',
    unreadMode: true,
    room: 'r1',
    pushDeviceKeys: [],
  });
});

test('the device keys include the single key older records hold; the native protocol is left out', () => {
  const session = sessionOf(
    { connectionId: 'c1=' },
    record({ clientId: 'amy', pushDeviceKeys: new Set(['k1', 'k2']), pushDeviceKey: 'k0', protocol: 'native' }),
  );
  expect(session.pushDeviceKeys.sort()).toEqual(['k0', 'k1', 'k2']);
  expect(session.unreadMode).toBe(false);
  expect('protocol' in session).toBe(false);
  expect(sessionOf({ connectionId: 'c1=' }, record({ clientId: 'amy', protocol: 'leancloud' })).protocol).toBe('leancloud');
});
