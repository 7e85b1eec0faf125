/** Native events encoded as LeanCloud pushes, decoded by the official SDK's own protobuf classes. */
import { leanCloudEncoder } from '../../lambdas/leancloud/encoder';
import type { ServerEvent } from '../../lambdas/protocol/events';

const sdk = require('leancloud-realtime/proto/message-compiled').push_server.messages2 as {
  GenericCommand: { decode64(s: string): unknown };
};

/** Decodes like the SDK; toRaw gives enum names and 64-bit integers as strings. */
async function sdkDecode(encoded: Promise<string | undefined>): Promise<Record<string, unknown>> {
  const frame = await encoded;
  if (frame === undefined) throw new Error('no LeanCloud frame for this event');
  const msg = sdk.GenericCommand.decode64(frame) as { toRaw(binaryAsBase64: boolean, longsAsStrings: boolean): Record<string, unknown> };
  return JSON.parse(JSON.stringify(msg.toRaw(false, true))) as Record<string, unknown>;
}

const message = { id: 'AbCdEfGhIjKl.1', cid: 'c1', from: 'Tom', data: '{"_lctext":"hi","_lctype":-1}', timestamp: 1795665217602, seq: 1 };

test('message → direct push with fromPeerId, timestamp and msg; offline flag kept', async () => {
  const d = await sdkDecode(leanCloudEncoder({ event: 'message', message: { ...message, offline: true } }, 'Bob')!);
  expect(d.cmd).toBe('direct');
  expect(d.peerId).toBe('Bob');
  expect(d.service).toBe(2);
  expect(d.i).toBeNull();
  expect(d.directMessage).toMatchObject({
    id: message.id,
    cid: 'c1',
    fromPeerId: 'Tom',
    timestamp: '1795665217602',
    msg: message.data,
    offline: true,
  });
});

test('a message that mentions → direct push with mentionPids and mentionAll', async () => {
  const d = await sdkDecode(leanCloudEncoder({ event: 'message', message: { ...message, mentions: ['Bob'], mentionAll: true } }, 'Bob')!);
  expect(d.directMessage).toMatchObject({ mentionPids: ['Bob'], mentionAll: true });
});

test('delivered → rcp (read=false)', async () => {
  const d = await sdkDecode(
    leanCloudEncoder({ event: 'delivered', cid: 'c1', messageId: message.id, deliveredAt: 1795665217700, by: 'Bob' }, 'Tom')!,
  );
  expect(d.cmd).toBe('rcp');
  expect(d.rcpMessage).toMatchObject({ id: message.id, cid: 'c1', t: '1795665217700', read: false, from: 'Bob' });
});

test.each([
  ['invited', 'joined', { cid: 'c1', by: 'Tom' }, { cid: 'c1', initBy: 'Tom' }],
  ['kicked', 'left', { cid: 'c1', by: 'Tom' }, { cid: 'c1', initBy: 'Tom' }],
  ['membersAdded', 'members_joined', { cid: 'c1', members: ['A', 'B'], by: 'Tom' }, { cid: 'c1', m: ['A', 'B'], initBy: 'Tom' }],
  ['membersRemoved', 'members_left', { cid: 'c1', members: ['C'], by: 'Tom' }, { cid: 'c1', m: ['C'], initBy: 'Tom' }],
])('%s → conv/%s', async (event, op, fields, expected) => {
  const d = await sdkDecode(leanCloudEncoder({ event, ...fields } as unknown as ServerEvent, 'Bob')!);
  expect([d.cmd, d.op]).toEqual(['conv', op]);
  expect(d.convMessage).toMatchObject(expected);
});

test('messageUpdated → patch/modify with one patch (recall flag, new data, patch time)', async () => {
  const d = await sdkDecode(
    leanCloudEncoder(
      { event: 'messageUpdated', message: { ...message, data: '{"_lctype":-127}', updatedAt: 1795665218000, recalled: true } },
      'Bob',
    )!,
  );
  expect([d.cmd, d.op]).toEqual(['patch', 'modify']);
  expect(d.patchMessage).toMatchObject({
    lastPatchTime: '1795665218000',
    patches: [
      {
        cid: 'c1',
        mid: message.id,
        timestamp: '1795665217602',
        recall: true,
        data: '{"_lctype":-127}',
        patchTimestamp: '1795665218000',
        from: 'Tom',
      },
    ],
  });
});

test('updated → conv/updated with the name and attributes as _Conversation columns', async () => {
  const d = await sdkDecode(
    leanCloudEncoder({ event: 'updated', cid: 'c1', by: 'Tom', name: 'n', attributes: { attr: { color: 'red' } }, updatedAt: 1 }, 'Bob')!,
  );
  expect([d.cmd, d.op]).toEqual(['conv', 'updated']);
  expect(d.convMessage).toMatchObject({ cid: 'c1', initBy: 'Tom' });
  expect(JSON.parse((d.convMessage as { attr: { data: string } }).attr.data)).toEqual({ attr: { color: 'red' }, name: 'n' });
});

test('closed → session/closed with code and reason; unread → unread tuples with the last message', async () => {
  const c = await sdkDecode(leanCloudEncoder({ event: 'closed', code: 4111, name: 'SESSION_CONFLICT' }, 'Tom')!);
  expect([c.cmd, c.op]).toEqual(['session', 'closed']);
  expect(c.sessionMessage).toMatchObject({ code: 4111, reason: 'SESSION_CONFLICT' });
  const u = await sdkDecode(
    leanCloudEncoder(
      {
        event: 'unread',
        conversations: [
          { cid: 'c1', unread: 3, lastMessage: message, mentioned: true },
          { cid: 'c2', unread: 0 },
        ],
      },
      'Tom',
    )!,
  );
  expect(u.cmd).toBe('unread');
  expect((u.unreadMessage as { convs: unknown[] }).convs).toEqual([
    expect.objectContaining({
      cid: 'c1',
      unread: 3,
      mid: message.id,
      timestamp: '1795665217602',
      from: 'Tom',
      data: message.data,
      mentioned: true,
    }),
    expect.objectContaining({ cid: 'c2', unread: 0 }),
  ]);
});

test('an event the encoder does not know (a newer server) is not sent', async () => {
  await expect(leanCloudEncoder({ event: 'somethingElse' } as unknown as ServerEvent, 'Tom')).resolves.toBeUndefined();
});
