import { ACKED_AHEAD_MAX, advanceDeliveredPoint, blocksPoint, gapsToExamine } from '../../lambdas/domain/delivered-point';

describe('gapsToExamine', () => {
  test('the unacked seqs between the point and the highest ack, lowest first', () => {
    expect(gapsToExamine(3, new Set([5, 8]))).toEqual([4, 6, 7]);
  });
  test('nothing when the acks continue the point', () => {
    expect(gapsToExamine(3, new Set([4, 5, 6]))).toEqual([]);
    expect(gapsToExamine(3, new Set())).toEqual([]);
  });
  test('bounded', () => {
    expect(gapsToExamine(0, new Set([1000]), 3)).toEqual([1, 2, 3]);
  });
});

describe('advanceDeliveredPoint', () => {
  test('moves over contiguous acks and forgets them', () => {
    expect(advanceDeliveredPoint(3, new Set([4, 5, 7]), new Set())).toEqual({ point: 5, forget: [4, 5] });
  });
  test('passes own and void seqs between acks, and stops at an unacked one', () => {
    expect(advanceDeliveredPoint(0, new Set([1, 3, 6]), new Set([2, 4]))).toEqual({ point: 4, forget: [1, 3] });
  });
  test('an ack beyond the backlog does not move the point over it', () => {
    expect(advanceDeliveredPoint(0, new Set([34]), new Set())).toEqual({ point: 0, forget: [] });
  });
  test('stale acks at or below the point are forgotten', () => {
    expect(advanceDeliveredPoint(10, new Set([2, 9, 12]), new Set())).toEqual({ point: 10, forget: [2, 9] });
  });
  test('remembers at most ACKED_AHEAD_MAX acks beyond the point, the lowest', () => {
    const acked = new Set(Array.from({ length: ACKED_AHEAD_MAX + 5 }, (_, i) => 10 + i));
    const { point, forget } = advanceDeliveredPoint(0, acked, new Set());
    expect(point).toBe(0);
    expect(forget).toEqual([ACKED_AHEAD_MAX + 10, ACKED_AHEAD_MAX + 11, ACKED_AHEAD_MAX + 12, ACKED_AHEAD_MAX + 13, ACKED_AHEAD_MAX + 14]);
  });
});

describe('blocksPoint', () => {
  test('only an unacked message from someone else stops the point', () => {
    expect(blocksPoint({ seq: 5, from: 'Tom' }, 'Bob')).toBe(true);
    expect(blocksPoint({ seq: 5, from: 'Tom' }, 'Bob', new Set([5]))).toBe(false);
    expect(blocksPoint({ seq: 5, from: 'Bob' }, 'Bob')).toBe(false);
    expect(blocksPoint({ seq: 5 }, 'Bob')).toBe(false);
  });
});
