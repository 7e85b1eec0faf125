/** Offline push through the local SNS endpoint with the real SNS client (docs/protocol.md §5, §11). */
import {
  CreatePlatformEndpointCommand,
  DeleteEndpointCommand,
  GetEndpointAttributesCommand,
  SetEndpointAttributesCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_APNS_APP } from '../../local/sns';
import { TestClient, type Frame } from '../helpers/client';
import { useStack } from '../helpers/stack';
import { takePushes } from '../helpers/pushes';

const h = useStack();

interface Push {
  endpointArn: string;
  token: string;
  platform: string;
  message: string;
  payload: { aps: { alert: string; badge: number; sound: string }; cid: string; messageId: string } & Record<string, unknown>;
}

let tokenN = 0;
const newToken = () => `${(++tokenN).toString(16).padStart(8, '0')}${'ab'.repeat(28)}`;
const open = async (id: string, extra: Frame = {}) => h.track(await TestClient.open(h.url, id, extra));

const pushes = () => takePushes<Push>(h);

function sns(): SNSClient {
  return new SNSClient({
    endpoint: `http://127.0.0.1:${h.stack.port}/_local/sns`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
}

async function devicesOf(clientId: string): Promise<Record<string, { token: string; endpointArn: string }>> {
  const res = await h.stack.deps.db.send(new GetCommand({ TableName: h.stack.config.tables.devices, Key: { clientId } }));
  return (res.Item?.devices ?? {}) as Record<string, { token: string; endpointArn: string }>;
}

/** Bob registers a device at open, then goes offline (socket closed, no `close`). */
async function offlineWithDevice(clientId: string, extra: Frame = {}): Promise<string> {
  const token = newToken();
  const c = await open(clientId, { deviceToken: token, deviceId: `${clientId}-phone`, ...extra });
  await h.stack.gateway.drain();
  await c.close();
  await h.stack.gateway.drain();
  return token;
}

beforeEach(async () => {
  await pushes();
});

describe('sending', () => {
  test('an offline member gets one APNs push per device with alert, badge, sound, cid and messageId', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const token = await offlineWithDevice(Bob);
    const tom = await open(Tom);
    const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    const m1 = await tom.ok('send', { cid, data: 'hello' });
    const [p1, ...rest] = await pushes();
    expect(rest).toEqual([]);
    expect(p1).toMatchObject({ token, platform: 'APNS' });
    expect(p1!.payload).toEqual({ aps: { alert: '您有新的消息', badge: 1, sound: 'default' }, cid, messageId: m1.messageId });
    expect(JSON.parse(p1!.message)).toEqual({ default: '您有新的消息', APNS: JSON.stringify(p1!.payload) });

    const m2 = await tom.ok('send', { cid, data: 'again', pushData: { alert: 'Tom: again', sound: 'ping.caf', custom: 'x' } });
    const [p2] = await pushes();
    expect(p2!.payload).toEqual({ custom: 'x', aps: { alert: 'Tom: again', badge: 2, sound: 'ping.caf' }, cid, messageId: m2.messageId });
  });

  test('never for the sender, online members, transient messages, muted conversations or chat rooms', async () => {
    const [Tom, Bob, Amy] = h.names('Tom', 'Bob', 'Amy');
    await offlineWithDevice(Tom);
    const tom = await open(Tom); // online now
    await offlineWithDevice(Amy);
    const bobToken = await offlineWithDevice(Bob);
    const bob = await open(Bob); // online: no push
    const cid = ((await tom.ok('create', { members: [Bob, Amy] })).conversation as { cid: string }).cid;
    await tom.ok('send', { cid, data: 'x' });
    const only = await pushes();
    expect(only.map((p) => p.token)).not.toContain(bobToken);
    expect(only).toHaveLength(1); // Amy
    await tom.ok('send', { cid, data: 'typing', transient: true });
    expect(await pushes()).toEqual([]);
    await bob.close();
    await h.stack.gateway.drain();
    // Amy mutes the conversation (through a session of hers that then goes away).
    const amy = await open(Amy);
    await amy.ok('mute', { cid });
    await amy.close();
    await h.stack.gateway.drain();
    await tom.ok('send', { cid, data: 'y' });
    expect((await pushes()).map((p) => p.token)).toEqual([bobToken]);
    // Chat rooms never push.
    const room = ((await tom.ok('create', { transient: true })).conversation as { cid: string }).cid;
    await tom.ok('send', { cid: room, data: 'z' });
    expect(await pushes()).toEqual([]);
  });

  test('the badge is the total unread over the recipient’s conversations that are not muted', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    await offlineWithDevice(Bob);
    const tom = await open(Tom);
    const a = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    const b = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    const muted = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    const bob = await open(Bob);
    await bob.ok('mute', { cid: muted });
    await bob.close();
    await h.stack.gateway.drain();
    for (let i = 0; i < 3; i++) await tom.ok('send', { cid: muted, data: `m${i}` });
    // The badge is computed when the worker runs: let each push finish before the next send.
    await tom.ok('send', { cid: b, data: 'b1' });
    await h.stack.gateway.drain();
    await tom.ok('send', { cid: a, data: 'a1' });
    const list = await pushes();
    // No push from the muted conversation; badges count a and b only.
    expect(list.map((p) => [p.payload.cid, p.payload.aps.badge])).toEqual([
      [b, 1],
      [a, 2],
    ]);
  });

  test('a member whose only connection is dead is offline for that message: delivered later and pushed', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const token = await offlineWithDevice(Bob);
    const tom = await open(Tom);
    const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    const { addPresence } = await import('../../lambdas/stores/presence');
    const ctx = { deps: h.stack.deps, now: Date.now() } as Parameters<typeof addPresence>[0];
    await addPresence(ctx, Bob, 'ZGVhZA==', { expiresAt: Math.floor(Date.now() / 1000) + 3600 });
    await tom.ok('send', { cid, data: 'to a dead socket' });
    expect((await pushes()).map((p) => p.token)).toEqual([token]);
  });
});

describe('device registration', () => {
  test('one endpoint per token, reused on the next open; close unregisters the device', async () => {
    const [Bob, Tom] = h.names('Bob', 'Tom');
    const token = newToken();
    const c1 = await open(Bob, { deviceToken: token, deviceId: 'phone' });
    await h.stack.gateway.drain();
    const first = (await devicesOf(Bob)).phone!;
    expect(first.token).toBe(token);
    await c1.close();
    const c2 = await open(Bob, { deviceToken: token, deviceId: 'phone' });
    await h.stack.gateway.drain();
    expect((await devicesOf(Bob)).phone!.endpointArn).toBe(first.endpointArn);
    await c2.ok('close');
    expect(await devicesOf(Bob)).toEqual({});
    await c2.close();
    const tom = await open(Tom);
    const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    await tom.ok('send', { cid, data: 'after logout' });
    expect(await pushes()).toEqual([]);
  });

  test('an endpoint that exists with different attributes is taken over', async () => {
    const [Bob, Tom] = h.names('Bob', 'Tom');
    const token = newToken();
    const client = sns();
    const pre = await client.send(
      new CreatePlatformEndpointCommand({ PlatformApplicationArn: LOCAL_APNS_APP, Token: token, CustomUserData: 'somebody-else' }),
    );
    await offlineWithDevice(Bob, { deviceToken: token });
    const attrs = (await client.send(new GetEndpointAttributesCommand({ EndpointArn: pre.EndpointArn }))).Attributes!;
    expect(attrs).toMatchObject({ CustomUserData: Bob, Enabled: 'true', Token: token });
    const tom = await open(Tom);
    const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    await tom.ok('send', { cid, data: 'x' });
    expect((await pushes()).map((p) => p.endpointArn)).toEqual([pre.EndpointArn]);
    client.destroy();
  });

  test('EndpointDisabled removes the device; a fresh registration enables it again', async () => {
    const [Bob, Tom] = h.names('Bob', 'Tom');
    const token = await offlineWithDevice(Bob);
    const arn = Object.values(await devicesOf(Bob))[0]!.endpointArn;
    const client = sns();
    // What SNS does when APNs reports the token invalid.
    await client.send(new SetEndpointAttributesCommand({ EndpointArn: arn, Attributes: { Enabled: 'false' } }));
    const tom = await open(Tom);
    const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    await tom.ok('send', { cid, data: 'x' });
    expect(await pushes()).toEqual([]);
    expect(await devicesOf(Bob)).toEqual({});
    await offlineWithDevice(Bob, { deviceToken: token });
    await tom.ok('send', { cid, data: 'y' });
    expect((await pushes()).map((p) => p.token)).toEqual([token]);
    client.destroy();
  });

  test('an endpoint SNS no longer knows (NotFound) is removed', async () => {
    const [Bob, Tom] = h.names('Bob', 'Tom');
    await offlineWithDevice(Bob);
    const arn = Object.values(await devicesOf(Bob))[0]!.endpointArn;
    const client = sns();
    await client.send(new DeleteEndpointCommand({ EndpointArn: arn }));
    const tom = await open(Tom);
    const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    await tom.ok('send', { cid, data: 'x' });
    expect(await pushes()).toEqual([]);
    expect(await devicesOf(Bob)).toEqual({});
    client.destroy();
  });

  test('a token that moves to another client stops pushing to the first', async () => {
    const [Bob, Alice, Tom] = h.names('Bob', 'Alice', 'Tom');
    const token = await offlineWithDevice(Bob);
    await offlineWithDevice(Alice, { deviceToken: token, deviceId: 'shared-phone' });
    expect(await devicesOf(Bob)).toEqual({});
    const tom = await open(Tom);
    const toBob = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    const toAlice = ((await tom.ok('create', { members: [Alice] })).conversation as { cid: string }).cid;
    await tom.ok('send', { cid: toBob, data: 'x' });
    expect(await pushes()).toEqual([]);
    await tom.ok('send', { cid: toAlice, data: 'y' });
    expect((await pushes()).map((p) => p.token)).toEqual([token]);
  });

  test('APNS_SANDBOX devices publish under the sandbox application', async () => {
    const [Bob, Tom] = h.names('Bob', 'Tom');
    await offlineWithDevice(Bob, { pushPlatform: 'APNS_SANDBOX' });
    const tom = await open(Tom);
    const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
    await tom.ok('send', { cid, data: 'x' });
    const [p] = await pushes();
    expect(p!.platform).toBe('APNS_SANDBOX');
    expect(Object.keys(JSON.parse(p!.message) as object)).toEqual(['default', 'APNS_SANDBOX']);
  });
});
