/** Chat room occupancy rules (docs/protocol.md §9): one room per connection, and the rejoin window. */
import { ROOM_REJOIN_WINDOW_MS, roomLeftByEntering, withinRejoinWindow } from '../../../lambdas/domain/rooms';

test('entering a room leaves the one the connection was in, and only another one', () => {
  expect(roomLeftByEntering(undefined, 'r1')).toBeUndefined();
  expect(roomLeftByEntering('r1', 'r1')).toBeUndefined();
  expect(roomLeftByEntering('r1', 'r2')).toBe('r1');
});

test('a room left by disconnecting is re-entered within 30 minutes, not after', () => {
  const leftAt = 1_000_000;
  expect(ROOM_REJOIN_WINDOW_MS).toBe(30 * 60 * 1000);
  expect(withinRejoinWindow({ cid: 'r', leftAt }, leftAt)).toBe(true);
  expect(withinRejoinWindow({ cid: 'r', leftAt }, leftAt + ROOM_REJOIN_WINDOW_MS)).toBe(true);
  expect(withinRejoinWindow({ cid: 'r', leftAt }, leftAt + ROOM_REJOIN_WINDOW_MS + 1)).toBe(false);
});
