import { historyPlan, MAX_QUERY_READ, type HistoryRange } from '../../../lambdas/domain/history';
import { storedMessageId } from '../../../lambdas/domain/ids';
import { ImError } from '../../../lambdas/protocol/errors';

const range = (r: Partial<HistoryRange>): HistoryRange => ({ cid: 'c1', limit: 20, ...r });
const id = storedMessageId;

describe('historyPlan', () => {
  test('no bounds: the whole conversation, newest first, void seqs aside', () => {
    expect(historyPlan(range({}))).toEqual({ cid: 'c1', keys: {}, filters: {}, from: 'newest', limit: 20, maxRead: MAX_QUERY_READ });
  });

  test('message ids are exclusive seq bounds unless inclusive', () => {
    const plan = historyPlan(range({ before: { messageId: id(10) }, after: { messageId: id(3) } }));
    expect(plan).toMatchObject({ keys: { lo: 4, hi: 9 }, filters: {} });
    const inclusive = historyPlan(range({ before: { messageId: id(10), inclusive: true }, after: { messageId: id(3), inclusive: true } }));
    expect(inclusive).toMatchObject({ keys: { lo: 3, hi: 10 } });
  });

  test('one end alone bounds one side', () => {
    expect(historyPlan(range({ before: { messageId: id(7) } }))).toMatchObject({ keys: { hi: 6 } });
    expect(historyPlan(range({ after: { messageId: id(7) }, from: 'oldest' }))).toMatchObject({ keys: { lo: 8 }, from: 'oldest' });
  });

  test('timestamps filter, exclusive unless inclusive', () => {
    expect(historyPlan(range({ before: { timestamp: 500 }, after: { timestamp: 100, inclusive: true } }))).toMatchObject({
      keys: {},
      filters: { before: { timestamp: 500, inclusive: false }, after: { timestamp: 100, inclusive: true } },
    });
  });

  test('a message id wins over a timestamp at the same end; the other end may still filter', () => {
    const plan = historyPlan(range({ before: { messageId: id(9), timestamp: 500 }, after: { timestamp: 100 } }));
    expect(plan).toMatchObject({ keys: { hi: 8 }, filters: { after: { timestamp: 100, inclusive: false } } });
    expect(plan !== 'empty' && plan.filters.before).toBeUndefined();
  });

  test('a type filters', () => {
    expect(historyPlan(range({ type: -2 }))).toMatchObject({ filters: { lctype: -2 } });
  });

  test('empty when the bounds cross, without reading', () => {
    // Adjacent messages, both exclusive: nothing between them.
    expect(historyPlan(range({ before: { messageId: id(5) }, after: { messageId: id(4) } }))).toBe('empty');
    expect(historyPlan(range({ before: { messageId: id(5) }, after: { messageId: id(5) } }))).toBe('empty');
    // One message, both ends inclusive: just it.
    expect(
      historyPlan(range({ before: { messageId: id(5), inclusive: true }, after: { messageId: id(5), inclusive: true } })),
    ).toMatchObject({
      keys: { lo: 5, hi: 5 },
    });
  });

  test('an id this server did not make is refused, naming the end', () => {
    expect(() => historyPlan(range({ before: { messageId: 'not-an-id' } }))).toThrow(ImError);
    expect(() => historyPlan(range({ after: { messageId: 'not-an-id' } }))).toThrow(/after\.messageId/);
  });
});
