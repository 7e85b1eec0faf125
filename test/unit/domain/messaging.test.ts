import { messageRecord, typeField } from '../../../lambdas/domain/messaging';
import type { Audience } from '../../../lambdas/domain/fan-out';
import type { Request } from '../../../lambdas/protocol/schemas';

const members: Audience = { room: false, members: ['Tom', 'Jerry'], muted: new Set(), joinedAt: new Map() };
const slot = { seq: 7, id: 'abcdefghijkl.7', timestamp: 1234 };
const send = (r: Partial<Request<'send'>>): Request<'send'> => ({ cid: 'c1', data: 'hi', ...r });

describe('typeField', () => {
  test('the _lctype of a typed message', () => {
    expect(typeField(JSON.stringify({ _lctype: -1, _lctext: 'x' }))).toEqual({ lctype: -1 });
  });
  test('nothing for plain text, broken JSON or a type that is no integer', () => {
    expect(typeField('hello')).toEqual({});
    expect(typeField('{"_lctype":')).toEqual({});
    expect(typeField(JSON.stringify({ _lctype: 1.5 }))).toEqual({});
    expect(typeField(JSON.stringify({ _lctype: '-1' }))).toEqual({});
  });
});

describe('messageRecord', () => {
  test('the slot, the sender and the data, nothing optional by default', () => {
    expect(messageRecord(send({}), 'Tom', members, slot)).toEqual({
      cid: 'c1',
      seq: 7,
      id: slot.id,
      from: 'Tom',
      data: 'hi',
      timestamp: 1234,
    });
  });
  test('receipts, de-duplicated mentions and the type are stored', () => {
    const data = JSON.stringify({ _lctype: -2 });
    expect(
      messageRecord(send({ data, receipt: true, mentions: ['Jerry', 'Jerry'], mentionAll: true }), 'Tom', members, slot),
    ).toMatchObject({ receipt: true, mentions: ['Jerry'], mentionAll: true, lctype: -2 });
  });
  test('rooms have no receipts', () => {
    expect(messageRecord(send({ receipt: true }), 'Tom', { room: true }, slot).receipt).toBeUndefined();
  });
  test('the same send and slot make the same record (a resend stores what the first attempt would have)', () => {
    const req = send({ receipt: true, mentions: ['Jerry'] });
    expect(messageRecord(req, 'Tom', members, slot)).toEqual(messageRecord(req, 'Tom', members, slot));
  });
});
