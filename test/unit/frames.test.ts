import { unroutableReply, replyFrame } from '../../lambdas/protocol/frames';

test('unroutable frames with an id get 4114; without one, nothing', () => {
  expect(JSON.parse(unroutableReply('{"action":"nope","id":"1"}')!)).toEqual({
    reply: 'nope',
    id: '1',
    ok: false,
    error: { code: 4114, name: 'UNPARSEABLE_RAW_MESSAGE', message: 'unknown action "nope"' },
  });
  expect(JSON.parse(unroutableReply('{"id":3}')!)).toMatchObject({ reply: null, id: 3, error: { message: 'frame has no action' } });
  expect(unroutableReply('{"action":"nope"}')).toBeUndefined();
  expect(unroutableReply('not json')).toBeUndefined();
  expect(unroutableReply('[{"id":1}]')).toBeUndefined();
  expect(unroutableReply(undefined)).toBeUndefined();
});

test('reply frames', () => {
  expect(JSON.parse(replyFrame('send', 7, { result: { a: 1 } }))).toEqual({ reply: 'send', id: 7, ok: true, result: { a: 1 } });
  expect(JSON.parse(replyFrame('send', undefined, { error: { code: 4200, name: 'INTERNAL_ERROR', message: 'm' } }))).toEqual({
    reply: 'send',
    ok: false,
    error: { code: 4200, name: 'INTERNAL_ERROR', message: 'm' },
  });
});
