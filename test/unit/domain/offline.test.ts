import {
  OFFLINE_MAX_CONVERSATIONS,
  leadingRun,
  offlineConversations,
  offlineMessages,
  packOfflineBatches,
  unreadEntry,
} from '../../../lambdas/domain/offline';
import type { MessageView } from '../../../lambdas/protocol/views';
import type { MessageRecord, SeqRecord, VoidRecord } from '../../../lambdas/stores/messages';

const message = (seq: number, from: string, extra: Partial<MessageRecord> = {}): MessageRecord => ({
  cid: 'c1',
  seq,
  id: `id${seq}`,
  from,
  data: `m${seq}`,
  timestamp: 1000 + seq,
  ...extra,
});
const voided = (seq: number): VoidRecord => ({ cid: 'c1', seq, void: true, voidedAt: 1 });

describe('offlineConversations', () => {
  const progress = new Map([
    ['a', { lastSeq: 5, lastMessageAt: 300 }],
    ['b', { lastSeq: 9, lastMessageAt: 500 }],
    ['c', { lastSeq: 2, lastMessageAt: 900 }],
  ]);
  test('only conversations past the delivered point, most recently active first', () => {
    const memberships = [
      { cid: 'a', deliveredSeq: 3 },
      { cid: 'b', deliveredSeq: 1 },
      { cid: 'c', deliveredSeq: 2 },
      { cid: 'unknown', deliveredSeq: 0 },
    ];
    expect(offlineConversations(memberships, progress).map((m) => m.cid)).toEqual(['b', 'a']);
  });
  test('keeps the membership as given (acks ahead included)', () => {
    const m = { cid: 'a', deliveredSeq: 0, ackedAhead: new Set([2]) };
    expect(offlineConversations([m], progress)[0]).toBe(m);
  });
  test('at most OFFLINE_MAX_CONVERSATIONS, the most recent', () => {
    const many = new Map(Array.from({ length: OFFLINE_MAX_CONVERSATIONS + 5 }, (_, i) => [`c${i}`, { lastSeq: 1, lastMessageAt: i }]));
    const picked = offlineConversations(
      [...many.keys()].map((cid) => ({ cid, deliveredSeq: 0 })),
      many,
    );
    expect(picked).toHaveLength(OFFLINE_MAX_CONVERSATIONS);
    expect(picked[0]!.cid).toBe(`c${OFFLINE_MAX_CONVERSATIONS + 4}`);
    expect(picked.map((m) => m.cid)).not.toContain('c0');
  });
});

describe('offlineMessages', () => {
  const items: SeqRecord[] = [message(4, 'Jerry'), voided(5), message(6, 'Tom'), message(7, 'Jerry'), message(8, 'Bob')];
  test('skips void seqs, own messages and those acked ahead; keeps the order', () => {
    expect(offlineMessages(items, 'Tom', new Set([7])).map((m) => m.seq)).toEqual([4, 8]);
  });
  test('without acks ahead, every message from others', () => {
    expect(offlineMessages(items, 'Tom', undefined).map((m) => m.seq)).toEqual([4, 7, 8]);
  });
});

describe('unreadEntry', () => {
  test('counts messages from others; the newest message is the last whoever sent it', () => {
    const entry = unreadEntry('c1', [message(9, 'Tom'), voided(8), message(7, 'Jerry'), message(6, 'Bob')], 'Tom');
    expect(entry).toMatchObject({ cid: 'c1', unread: 2, lastMessage: { id: 'id9', from: 'Tom' } });
    expect(entry.mentioned).toBeUndefined();
  });
  test('a void newest seq is not the last message', () => {
    expect(unreadEntry('c1', [voided(3), message(2, 'Jerry')], 'Tom').lastMessage).toMatchObject({ id: 'id2' });
  });
  test('flags a mention of the client, or of everyone, by others only', () => {
    expect(unreadEntry('c1', [message(2, 'Jerry', { mentions: ['Tom'] })], 'Tom').mentioned).toBe(true);
    expect(unreadEntry('c1', [message(2, 'Jerry', { mentionAll: true })], 'Tom').mentioned).toBe(true);
    expect(unreadEntry('c1', [message(2, 'Tom', { mentionAll: true })], 'Tom').mentioned).toBeUndefined();
  });
  test('nothing after the point: zero and no last message', () => {
    expect(unreadEntry('c1', [voided(4)], 'Tom')).toEqual({ cid: 'c1', unread: 0, lastMessage: null });
  });
});

describe('packOfflineBatches', () => {
  const msg = (seq: number, data = 'x'): MessageView => ({
    id: `AbCdEfGhIjKl.${seq.toString(36)}`,
    cid: 'c1',
    from: 'Tom',
    data,
    timestamp: 1,
    seq,
    offline: true,
  });
  const frameBytes = (batch: MessageView[]) => Buffer.byteLength(JSON.stringify({ event: 'messages', messages: batch }), 'utf8');

  test('every frame fits the bound, order is kept, and nothing is lost or repeated', () => {
    const messages = Array.from({ length: 300 }, (_, i) => msg(i + 1, 'é'.repeat((i * 37) % 900)));
    const batches = packOfflineBatches(messages, 8 * 1024);
    expect(batches.flat()).toEqual(messages);
    for (const b of batches) expect(frameBytes(b)).toBeLessThanOrEqual(8 * 1024);
    // Greedy: no two neighbouring frames would have fitted together.
    for (let i = 1; i < batches.length; i++) expect(frameBytes([...batches[i - 1]!, ...batches[i]!])).toBeGreaterThan(8 * 1024);
  });

  test('a message too large for any frame travels alone; none means no frames', () => {
    const big = msg(2, 'x'.repeat(40 * 1024));
    expect(packOfflineBatches([msg(1), big, msg(3)])).toEqual([[msg(1)], [big], [msg(3)]]);
    expect(packOfflineBatches([])).toEqual([]);
  });
});

describe('leadingRun', () => {
  const m = (seq: number, from: string): SeqRecord => ({
    cid: 'c',
    seq,
    id: `AbCdEfGhIjKl.${seq.toString(36)}`,
    from,
    data: 'x',
    timestamp: 1,
  });
  const v = (seq: number): SeqRecord => ({ cid: 'c', seq, void: true, voidedAt: 1 });

  test('moves over own, void and acked-ahead seqs, and stops at one the member is owed', () => {
    expect(leadingRun(10, [m(11, 'Amy'), v(12), m(13, 'Bob'), m(14, 'Amy')], 'Amy', new Set([13]))).toEqual({ end: 14 });
    expect(leadingRun(10, [m(11, 'Amy'), m(12, 'Bob'), m(13, 'Amy')], 'Amy', new Set())).toEqual({ end: 11 });
  });
  test('stops before a hole and names it', () => {
    expect(leadingRun(10, [m(11, 'Amy'), m(13, 'Amy')], 'Amy', new Set())).toEqual({ end: 11, hole: 12 });
  });
  test('nothing after the point: no move', () => {
    expect(leadingRun(10, [], 'Amy', new Set())).toEqual({ end: 10 });
  });
});
