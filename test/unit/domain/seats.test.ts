import { MAX_MEMBERS, afterRefusal, highestCountAdmitting, seatsFit, unusedSeatsDelta } from '../../../lambdas/domain/seats';

describe('the member limit', () => {
  test('is 500', () => {
    expect(MAX_MEMBERS).toBe(500);
  });
});

describe('highestCountAdmitting', () => {
  test('is the limit less the seats wanted: the condition of the counter ADD', () => {
    expect(highestCountAdmitting(1)).toBe(499);
    expect(highestCountAdmitting(10)).toBe(490);
    expect(highestCountAdmitting(MAX_MEMBERS)).toBe(0);
  });
  test('is negative when more seats are wanted than the limit holds, so no counter admits them', () => {
    expect(highestCountAdmitting(MAX_MEMBERS + 1)).toBe(-1);
  });
  test('takes another limit', () => {
    expect(highestCountAdmitting(2, 3)).toBe(1);
  });
});

describe('seatsFit', () => {
  test('up to the limit exactly, not one past it', () => {
    expect(seatsFit(499, 1)).toBe(true);
    expect(seatsFit(500, 1)).toBe(false);
    expect(seatsFit(490, 10)).toBe(true);
    expect(seatsFit(491, 10)).toBe(false);
    expect(seatsFit(0, MAX_MEMBERS)).toBe(true);
    expect(seatsFit(0, MAX_MEMBERS + 1)).toBe(false);
  });
  test('agrees with the counter condition for every count and request', () => {
    for (let count = 0; count <= 12; count++)
      for (let n = 1; n <= 12; n++) expect(seatsFit(count, n, 10)).toBe(count <= highestCountAdmitting(n, 10));
  });
});

describe('afterRefusal', () => {
  test('a counter that drifted above the real membership is repaired to the exact count', () => {
    expect(afterRefusal(400, 10)).toEqual({ kind: 'repair', count: 400 });
    expect(afterRefusal(490, 10)).toEqual({ kind: 'repair', count: 490 });
    expect(afterRefusal(0, 1)).toEqual({ kind: 'repair', count: 0 });
  });
  test('full when the seats do not fit the real membership either', () => {
    expect(afterRefusal(491, 10)).toEqual({ kind: 'full' });
    expect(afterRefusal(500, 1)).toEqual({ kind: 'full' });
    expect(afterRefusal(0, MAX_MEMBERS + 1)).toEqual({ kind: 'full' });
  });
  test('takes another limit', () => {
    expect(afterRefusal(2, 1, 3)).toEqual({ kind: 'repair', count: 2 });
    expect(afterRefusal(3, 1, 3)).toEqual({ kind: 'full' });
  });
});

describe('unusedSeatsDelta', () => {
  test('nothing to give back when every reserved seat was written', () => {
    expect(unusedSeatsDelta(3, 3)).toBe(0);
  });
  test('gives back the seats of clients a racing join added first', () => {
    expect(unusedSeatsDelta(3, 1)).toBe(-2);
    expect(unusedSeatsDelta(5, 0)).toBe(-5);
  });
});

describe('the rule over a counter', () => {
  /**
   * The sequence domain/membership.ts runs, against an in-memory counter: the conditional ADD,
   * then on refusal the recount and at most one repair and retry.
   */
  function reserve(state: { counter: number; actual: number }, n: number, max: number): boolean {
    const add = () => {
      if (state.counter > highestCountAdmitting(n, max)) return false;
      state.counter += n;
      return true;
    };
    if (add()) return true;
    const next = afterRefusal(state.actual, n, max);
    if (next.kind === 'full') return false;
    state.counter = next.count;
    return add();
  }

  test('a counter at the limit with fewer real members admits them after the repair', () => {
    const state = { counter: 10, actual: 7 };
    expect(reserve(state, 3, 10)).toBe(true);
    expect(state.counter).toBe(10);
  });
  test('a real membership at the limit stays full, and the counter is left alone', () => {
    const state = { counter: 10, actual: 10 };
    expect(reserve(state, 1, 10)).toBe(false);
    expect(state.counter).toBe(10);
  });
  test('reserving seats that are free moves the counter only', () => {
    const state = { counter: 4, actual: 4 };
    expect(reserve(state, 2, 10)).toBe(true);
    expect(state.counter).toBe(6);
  });
});
