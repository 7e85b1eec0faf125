/**
 * The LeanCloud frame codec against the official SDK's own protobuf classes (leancloud-realtime
 * 4.3.1, protobufjs 5): what the SDK encodes we decode, and what we encode the SDK decodes.
 */
import { LcDecodeError, decodeFrame, encodeFrame } from '../../lambdas/leancloud/codec';

// The SDK ships CommonJS protobufjs-5 classes without types.
const sdk = require('leancloud-realtime/proto/message-compiled').push_server.messages2 as {
  GenericCommand: {
    new (o: object): { toBase64(): string };
    decode64(s: string): unknown;
  };
  SessionCommand: new (o: object) => object;
  DirectCommand: new (o: object) => object;
  ConvCommand: new (o: object) => object;
  CommandType: Record<string, number>;
  OpType: Record<string, number>;
};

test("decodes the SDK's session open exactly as it sends it", () => {
  const frame = new sdk.GenericCommand({
    cmd: sdk.CommandType.session,
    op: sdk.OpType.open,
    appId: 'local-app-id-1234',
    peerId: 'Tom',
    i: 1,
    sessionMessage: new sdk.SessionCommand({ ua: 'js/4.3.1', r: false, deviceId: 'd-1', configBitmap: 59 }),
  }).toBase64();
  // The first bytes match the frame observed from the SDK on the wire.
  expect(frame.startsWith('CAAQARoRbG9jYWwtYXBwLWlkLTEyMzQiA1RvbSgB')).toBe(true);
  expect(decodeFrame(frame)).toEqual({
    cmd: 'session',
    op: 'open',
    appId: 'local-app-id-1234',
    peerId: 'Tom',
    i: 1,
    sessionMessage: { ua: 'js/4.3.1', r: false, deviceId: 'd-1', configBitmap: 59 },
  });
});

test('decodes a direct message with its conversation and client uuid', () => {
  const frame = new sdk.GenericCommand({
    cmd: sdk.CommandType.direct,
    i: 3,
    directMessage: new sdk.DirectCommand({ msg: '{"_lctext":"hello","_lctype":-1}', cid: 'c1', dt: 'uuid-1', mentionAll: false }),
  }).toBase64();
  expect(decodeFrame(frame)).toMatchObject({
    cmd: 'direct',
    i: 3,
    directMessage: { msg: '{"_lctext":"hello","_lctype":-1}', cid: 'c1', dt: 'uuid-1' },
  });
});

test('what we encode, the SDK decodes (enums by name, 64-bit timestamps)', () => {
  const text = encodeFrame({
    cmd: 'conv',
    op: 'started',
    i: 2,
    convMessage: { cid: '6b07ad4174eb6186d347695b', cdate: '2026-11-26T03:47:36.000Z' },
  });
  const back = sdk.GenericCommand.decode64(text) as Record<string, unknown> & { convMessage: Record<string, unknown> };
  expect(back.cmd).toBe(sdk.CommandType.conv);
  expect(back.op).toBe(sdk.OpType.started);
  expect(back.convMessage.cid).toBe('6b07ad4174eb6186d347695b');
  expect(back.convMessage.cdate).toBe('2026-11-26T03:47:36.000Z');

  const ack = sdk.GenericCommand.decode64(
    encodeFrame({ cmd: 'ack', i: 3, ackMessage: { uid: 'AbCdEfGhIjKl.1', t: 1795665217602 } }),
  ) as Record<string, unknown> & { ackMessage: { uid: string; t: { toNumber(): number } } };
  expect(ack.ackMessage.uid).toBe('AbCdEfGhIjKl.1');
  expect(ack.ackMessage.t.toNumber()).toBe(1795665217602);
});

test('anything else is a decode error, never a crash', () => {
  for (const bad of ['not base64!', '{"action":"ping"}', Buffer.from([0xff, 0xff, 0xff, 0xff]).toString('base64'), '////']) {
    expect(() => decodeFrame(bad)).toThrow(LcDecodeError);
  }
  expect(decodeFrame('')).toEqual({});
});
