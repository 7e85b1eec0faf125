/**
 * LeanCloud signatures and session tokens with IM_SIGNATURE_REQUIRED=true: the SDK's
 * `signatureFactory` / `conversationSignatureFactory` backed by what an application server does
 * (`signAction` with the master key), the automatic reconnect that carries the session token
 * instead of a signature, and `session/refresh` and token revocation in raw frames.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { request } from 'node:http';
import { signAction, type SignedAction } from '../../lambdas/domain/signatures';
import { next, RawLeanCloud, SDK_VERSIONS, useRealtime } from '../helpers/leancloud';
import { useStack } from '../helpers/stack';

const APP = 'signed-app';
const KEY = 'signed-master-key';
const h = useStack({ env: { IM_LOG_LEVEL: 'silent', IM_SIGNATURE_REQUIRED: 'true', IM_MASTER_KEY: KEY, IM_APP_ID: APP } });

/** What the application server signs for each factory call (it sees the SDK's action names). */
const appServer = {
  calls: [] as string[],
  login(clientId: string) {
    appServer.calls.push(`open:${clientId}`);
    return signAction('open', { appId: APP, masterKey: KEY, clientId });
  },
  conversation(cid: string | null, clientId: string, members: string[], action: string) {
    appServer.calls.push(`${action}:${clientId}`);
    // SDK 4 names invite/kick add/remove (5: invite/kick), and signs join/quit as those of itself.
    const as: SignedAction = action === 'create' ? 'create' : action === 'add' || action === 'invite' ? 'invite' : 'kick';
    return signAction(as, { appId: APP, masterKey: KEY, clientId, members, ...(cid ? { cid } : {}) });
  },
};
// IMClient options (the second argument of createIMClient).
const signed = { signatureFactory: appServer.login, conversationSignatureFactory: appServer.conversation };
beforeEach(() => (appServer.calls = []));

/** The connection ids of a client's live connections. */
async function connectionsOf(clientId: string): Promise<string[]> {
  const res = await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.presence, Key: { clientId } }));
  return Object.keys((res.Item?.conns as object | undefined) ?? {});
}

/** DELETE @connections/{id}, without a keep-alive socket left behind. */
function disconnect(connectionId: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: h.stack.port, method: 'DELETE', path: `/@connections/${encodeURIComponent(connectionId)}`, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe.each(SDK_VERSIONS)('leancloud-realtime %s', (version, sdk) => {
  const realtime = useRealtime(h, sdk, APP);

  test('login, create, add, remove, join and quit through the signature factories', async () => {
    const [Tom, Jerry, Alex, Zed] = h.names('Tom', 'Jerry', 'Alex', 'Zed');
    const tom = await realtime().createIMClient(Tom, signed);
    const alex = await realtime().createIMClient(Alex, signed);
    // createConversation signs the member list with the creator in it, as LeanCloud did.
    const conv = await tom.createConversation({ members: [Jerry] });
    await conv.add([Zed]);
    await conv.remove([Zed]);
    const alexConv = await alex.getConversation(conv.id);
    await alexConv.join();
    expect(await conv.count()).toBe(3);
    await alexConv.quit();
    expect(await conv.count()).toBe(2);
    // The names the factory is called with changed in SDK 5.
    const [add, remove] = version.startsWith('4.') ? ['add', 'remove'] : ['invite', 'kick'];
    expect(appServer.calls).toEqual([
      `open:${Tom}`,
      `open:${Alex}`,
      `create:${Tom}`,
      `${add}:${Tom}`,
      `${remove}:${Tom}`,
      `${add}:${Alex}`,
      `${remove}:${Alex}`,
    ]);
  });

  test('without a valid signature the server refuses: login 4102, conversation actions 4302', async () => {
    const [Tom, Jerry] = h.names('Tom', 'Jerry');
    await expect(realtime().createIMClient(Tom)).rejects.toMatchObject({ code: 4102 });
    const forged = { signatureFactory: () => ({ signature: 'f'.repeat(40), timestamp: Math.floor(Date.now() / 1000), nonce: 'n1' }) };
    await expect(realtime().createIMClient(Tom, forged)).rejects.toMatchObject({ code: 4102 });

    const tom = await realtime().createIMClient(Tom, { signatureFactory: appServer.login });
    await expect(tom.createConversation({ members: [Jerry] })).rejects.toMatchObject({ code: 4302 });
    // Signed for other members than the ones sent.
    const lying = { ...signed, conversationSignatureFactory: () => appServer.conversation(null, Tom, [Tom], 'create') };
    const tom2 = await realtime().createIMClient(Tom, lying);
    await expect(tom2.createConversation({ members: [Jerry] })).rejects.toMatchObject({ code: 4302 });
  });

  test('an automatic reconnect re-opens with the session token, without asking for a signature', async () => {
    const [Tom, Jerry] = h.names('Tom', 'Jerry');
    const tom = await realtime().createIMClient(Tom, signed);
    const jerry = await realtime().createIMClient(Jerry, signed);
    // Tom's SDK looks the new conversation up when told it joined; that must not be in flight on
    // the socket dropped below (its reply would be lost and the SDK would wait 20 s for it).
    const joined = next(tom, 'invited');
    const conv = await tom.createConversation({ members: [Jerry] });
    await joined;
    const [before] = await connectionsOf(Tom);
    appServer.calls = [];

    // The server drops the socket (as API Gateway does after 2 h); the SDK reconnects on its own.
    const reconnected = next(tom, 'reconnect');
    await disconnect(before!);
    await reconnected;
    expect(appServer.calls).toEqual([]);
    const after = await connectionsOf(Tom);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);

    const got = next(jerry, 'message');
    await conv.send(new sdk.TextMessage('still here'));
    expect(((await got)[0] as { text: string }).text).toBe('still here');
    await Promise.all([tom.close(), jerry.close()]);
  });
});

test('session tokens: refresh hands out a new one and revokes the old; close revokes; unknown → 4112', async () => {
  const [Tom] = h.names('Tom');
  const sig = (clientId: string) => {
    const s = signAction('open', { appId: APP, masterKey: KEY, clientId });
    return { s: s.signature, t: s.timestamp, n: s.nonce };
  };
  const a = await RawLeanCloud.connect(h.url);
  const opened = await a.request({ cmd: 'session', op: 'open', appId: APP, peerId: Tom, sessionMessage: sig(Tom) });
  expect(opened).toMatchObject({ op: 'opened', peerId: Tom, sessionMessage: { stTtl: 86400 } });
  const first = (opened.sessionMessage as { st: string }).st;

  // A reconnect elsewhere with the token needs no signature and gets the same token back.
  const b = await RawLeanCloud.connect(h.url);
  const reopened = await b.request({ cmd: 'session', op: 'open', appId: APP, peerId: Tom, sessionMessage: { r: true, st: first } });
  expect(reopened).toMatchObject({ op: 'opened', sessionMessage: { st: first } });

  // Refresh with the live token: a new token, the old one no longer opens.
  const refreshed = await a.request({ cmd: 'session', op: 'refresh', sessionMessage: { st: first } });
  const second = (refreshed.sessionMessage as { st: string }).st;
  expect(refreshed.op).toBe('refreshed');
  expect(second).not.toBe(first);
  const c = await RawLeanCloud.connect(h.url);
  const stale = await c.request({ cmd: 'session', op: 'open', appId: APP, peerId: Tom, sessionMessage: { r: true, st: first } });
  expect(stale).toMatchObject({ cmd: 'error', errorMessage: { code: 4112, reason: 'SESSION_TOKEN_EXPIRED' } });
  // A token is bound to its client.
  const [Eve] = h.names('Eve');
  const theft = await c.request({ cmd: 'session', op: 'open', appId: APP, peerId: Eve, sessionMessage: { r: true, st: second } });
  expect(theft).toMatchObject({ cmd: 'error', errorMessage: { code: 4112 } });
  // Refresh without a live token needs a login signature.
  expect(await b.request({ cmd: 'session', op: 'refresh', sessionMessage: { st: 'made-up' } })).toMatchObject({
    cmd: 'error',
    errorMessage: { code: 4102 },
  });

  // Logging out revokes the connection's token.
  await a.request({ cmd: 'session', op: 'close' });
  const d = await RawLeanCloud.connect(h.url);
  expect(await d.request({ cmd: 'session', op: 'open', appId: APP, peerId: Tom, sessionMessage: { r: true, st: second } })).toMatchObject({
    cmd: 'error',
    errorMessage: { code: 4112 },
  });
  // Tokens are stored only as hashes.
  const stored = await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.keys, Key: { k: `st#${first}` } }));
  expect(stored.Item).toBeUndefined();
  for (const s of [a, b, c, d]) s.close();
});
