/**
 * Further clients on one LeanCloud socket (peer sessions) with signatures on: a peer is recorded
 * only once its `session/open` succeeded, a socket carries a bounded number of clients, and
 * `session/open` spends the open budget.
 */
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { signAction } from '../../lambdas/domain/signatures';
import { RawLeanCloud } from '../helpers/leancloud';
import { useStack } from '../helpers/stack';

const APP = 'peers-app';
const KEY = 'peers-master-key';
const h = useStack({
  env: { IM_SIGNATURE_REQUIRED: 'true', IM_MASTER_KEY: KEY, IM_APP_ID: APP, IM_RATE_OPEN_PER_10S: '5' },
});

const signed = (clientId: string) => {
  const s = signAction('open', { appId: APP, masterKey: KEY, clientId });
  return { s: s.signature, t: s.timestamp, n: s.nonce };
};
const open = (socket: RawLeanCloud, clientId: string, sessionMessage: object = signed(clientId)) =>
  socket.request({ cmd: 'session', op: 'open', appId: APP, peerId: clientId, sessionMessage });

/** The connection record of the socket whose own client is `clientId`. */
async function socketOf(clientId: string): Promise<Record<string, unknown>> {
  const presence = await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.presence, Key: { clientId } }));
  const [connectionId] = Object.keys(presence.Item!.conns as object);
  const res = await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.connections, Key: { connectionId } }));
  return res.Item!;
}

async function peerRecordsOf(socketId: string): Promise<Record<string, unknown>[]> {
  const res = await h.stack.deps.db.send(
    new ScanCommand({
      TableName: h.stack.config.tables.connections,
      FilterExpression: 'begins_with(connectionId, :p)',
      ExpressionAttributeValues: { ':p': `${socketId}#` },
    }),
  );
  return res.Items ?? [];
}

test('session/open with a bad signature records no peer on the socket', async () => {
  const [Tom] = h.names('Tom');
  const socket = await RawLeanCloud.connect(h.url);
  try {
    expect(await open(socket, Tom)).toMatchObject({ op: 'opened', peerId: Tom });
    for (let i = 0; i < 30; i++) {
      const [Eve] = h.names('Eve');
      const forged = { s: 'f'.repeat(40), t: Math.floor(Date.now() / 1000), n: `forged-${i}` };
      expect(await open(socket, Eve, forged)).toMatchObject({ cmd: 'error', errorMessage: { code: 4102 } });
      expect(await open(socket, Eve, {})).toMatchObject({ cmd: 'error', errorMessage: { code: 4102 } });
    }
    const record = await socketOf(Tom);
    expect(record.peers).toBeUndefined();
    expect(await peerRecordsOf(record.connectionId as string)).toEqual([]);
  } finally {
    socket.close();
  }
});

test('a socket carries at most 16 clients: a further open is refused with 4103; the others keep working', async () => {
  const [Tom] = h.names('Tom');
  const socket = await RawLeanCloud.connect(h.url);
  try {
    expect(await open(socket, Tom)).toMatchObject({ op: 'opened' });
    const peers = Array.from({ length: 15 }, () => h.names('Peer')[0]);
    for (const p of peers) expect(await open(socket, p)).toMatchObject({ op: 'opened', peerId: p });
    const [Late] = h.names('Late');
    expect(await open(socket, Late)).toMatchObject({ cmd: 'error', peerId: Late, errorMessage: { code: 4103, reason: 'INVALID_LOGIN' } });
    const record = await socketOf(Tom);
    expect([...(record.peers as Set<string>)].sort()).toEqual([...peers].sort());
    expect(await peerRecordsOf(record.connectionId as string)).toHaveLength(15);
    // Clients already on the socket still open (again) and act.
    expect(await open(socket, peers[0]!)).toMatchObject({ op: 'opened', peerId: peers[0] });
    const online = await socket.request({
      cmd: 'session',
      op: 'query',
      peerId: peers[3],
      sessionMessage: { sessionPeerIds: [Tom, peers[3]] },
    });
    expect(online).toMatchObject({ op: 'query_result', sessionMessage: { onlineSessionPeerIds: [Tom, peers[3]] } });
  } finally {
    socket.close();
  }
});

test('session/open spends the open budget of its client on the socket (4116 past it)', async () => {
  const [Tom, Jerry] = h.names('Tom', 'Jerry');
  const socket = await RawLeanCloud.connect(h.url);
  try {
    expect(await open(socket, Tom)).toMatchObject({ op: 'opened' });
    for (let i = 0; i < 5; i++) expect(await open(socket, Jerry)).toMatchObject({ op: 'opened', peerId: Jerry });
    expect(await open(socket, Jerry)).toMatchObject({ cmd: 'error', errorMessage: { code: 4116 } });
    // Tom's budget on the socket is his own.
    for (let i = 0; i < 4; i++) expect(await open(socket, Tom)).toMatchObject({ op: 'opened', peerId: Tom });
  } finally {
    socket.close();
  }
});
