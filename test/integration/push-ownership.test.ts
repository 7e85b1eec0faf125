/**
 * A device token belongs to the client that presented it last (LeanCloud's semantics): once it
 * moves, nothing of the previous owner's may be pushed to it — neither through the previous
 * owner's device entry nor through a worker that read that entry before the move.
 */
import { GetEndpointAttributesCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { TestClient, type Frame } from '../helpers/client';
import { useStack } from '../helpers/stack';
import { takePushes } from '../helpers/pushes';

const h = useStack();

interface Push {
  endpointArn: string;
  token: string;
  payload: { cid: string; messageId: string };
}
interface Device {
  token: string;
  endpointArn: string;
}

let tokenN = 0;
const newToken = () => `${(++tokenN).toString(16).padStart(8, '0')}${'cd'.repeat(28)}`;
const open = async (id: string, extra: Frame = {}) => h.track(await TestClient.open(h.url, id, extra));

const pushes = () => takePushes<Push>(h);

async function devicesItem(clientId: string): Promise<Record<string, unknown> | undefined> {
  const res = await h.stack.deps.db.send(
    new GetCommand({ TableName: h.stack.config.tables.devices, Key: { clientId }, ConsistentRead: true }),
  );
  return res.Item;
}
const devicesOf = async (clientId: string) => ((await devicesItem(clientId))?.devices ?? {}) as Record<string, Device>;

/** Opens with a device token, lets the registration finish, then drops the socket (no `close`). */
async function registerAndGoOffline(clientId: string, token: string, deviceId: string): Promise<void> {
  const c = await open(clientId, { deviceToken: token, deviceId });
  await h.stack.gateway.drain();
  await c.close();
  await h.stack.gateway.drain();
}

let sns: SNSClient;
beforeAll(() => {
  sns = new SNSClient({
    endpoint: `http://127.0.0.1:${h.stack.port}/_local/sns`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});
afterAll(() => sns.destroy());
beforeEach(async () => {
  await pushes();
});

/** Tom, online, with a conversation to each of the given clients. */
async function sender(...to: string[]): Promise<{ tom: TestClient; cids: string[] }> {
  const [Tom] = h.names('Tom');
  const tom = await open(Tom);
  const cids: string[] = [];
  for (const m of to) cids.push(((await tom.ok('create', { members: [m] })).conversation as { cid: string }).cid);
  return { tom, cids };
}

test('a token presented by another client moves to it: the first owner’s messages are not pushed to it', async () => {
  const [Amy, Ben] = h.names('Amy', 'Ben');
  const token = newToken();
  await registerAndGoOffline(Amy, token, 'amy-phone');
  await registerAndGoOffline(Ben, token, 'ben-phone');
  expect(await devicesOf(Amy)).toEqual({});
  expect(Object.values(await devicesOf(Ben)).map((d) => d.token)).toEqual([token]);

  const { tom, cids } = await sender(Amy, Ben);
  await tom.ok('send', { cid: cids[0], data: 'for Amy' });
  expect(await pushes()).toEqual([]);
  const forBen = await tom.ok('send', { cid: cids[1], data: 'for Ben' });
  expect((await pushes()).map((p) => [p.token, p.payload.messageId])).toEqual([[token, forBen.messageId]]);
});

test('the first owner’s endpoint is deleted, not handed over: a publish to it fails and reaches no phone', async () => {
  const [Amy, Ben] = h.names('Amy', 'Ben');
  const token = newToken();
  await registerAndGoOffline(Amy, token, 'amy-phone');
  const amysArn = (await devicesOf(Amy))['amy-phone']!.endpointArn;
  await registerAndGoOffline(Ben, token, 'ben-phone');
  const bensArn = (await devicesOf(Ben))['ben-phone']!.endpointArn;

  expect(bensArn).not.toBe(amysArn);
  await expect(sns.send(new GetEndpointAttributesCommand({ EndpointArn: amysArn }))).rejects.toMatchObject({ name: 'NotFoundException' });
  await expect(sns.send(new PublishCommand({ TargetArn: amysArn, Message: 'for Amy' }))).rejects.toMatchObject({
    name: 'NotFoundException',
  });
  expect(await pushes()).toEqual([]);
  expect((await sns.send(new GetEndpointAttributesCommand({ EndpointArn: bensArn }))).Attributes).toMatchObject({
    Token: token,
    CustomUserData: Ben,
    Enabled: 'true',
  });
});

test('a stale device entry of the first owner (a worker that read it before the move) pushes nothing and is removed', async () => {
  const [Amy, Ben] = h.names('Amy', 'Ben');
  const token = newToken();
  await registerAndGoOffline(Amy, token, 'amy-phone');
  const amysItem = await devicesItem(Amy);
  await registerAndGoOffline(Ben, token, 'ben-phone');
  // What a push worker that read Amy's devices just before the move still holds.
  await h.stack.deps.db.send(new PutCommand({ TableName: h.stack.config.tables.devices, Item: amysItem! }));
  expect(Object.keys(await devicesOf(Amy))).toEqual(['amy-phone']);

  const { tom, cids } = await sender(Amy, Ben);
  await tom.ok('send', { cid: cids[0], data: 'for Amy' });
  expect(await pushes()).toEqual([]);
  expect(await devicesOf(Amy)).toEqual({});

  const forBen = await tom.ok('send', { cid: cids[1], data: 'for Ben' });
  expect((await pushes()).map((p) => [p.token, p.payload.messageId])).toEqual([[token, forBen.messageId]]);
});

test('the token moving back to the first owner stops the second owner’s pushes the same way', async () => {
  const [Amy, Ben] = h.names('Amy', 'Ben');
  const token = newToken();
  await registerAndGoOffline(Amy, token, 'phone');
  await registerAndGoOffline(Ben, token, 'phone');
  const bensItem = await devicesItem(Ben);
  await registerAndGoOffline(Amy, token, 'phone');
  await h.stack.deps.db.send(new PutCommand({ TableName: h.stack.config.tables.devices, Item: bensItem! }));

  const { tom, cids } = await sender(Amy, Ben);
  await tom.ok('send', { cid: cids[1], data: 'for Ben' });
  expect(await pushes()).toEqual([]);
  expect(await devicesOf(Ben)).toEqual({});
  await tom.ok('send', { cid: cids[0], data: 'for Amy' });
  expect((await pushes()).map((p) => p.token)).toEqual([token]);
});

test('were the new endpoint to get the old ARN back, the owner check still keeps the first owner’s push off it', async () => {
  const [Amy, Ben] = h.names('Amy', 'Ben');
  const token = newToken();
  await registerAndGoOffline(Amy, token, 'amy-phone');
  await registerAndGoOffline(Ben, token, 'ben-phone');
  const bens = (await devicesOf(Ben))['ben-phone']!;
  // SNS does not document that a re-created endpoint gets a new ARN: an entry of Amy's that
  // names Ben's endpoint is what a worker would hold then.
  const stale = { ...bens, updatedAt: Date.now() - 60_000 };
  await h.stack.deps.db.send(
    new PutCommand({ TableName: h.stack.config.tables.devices, Item: { clientId: Amy, devices: { 'amy-phone': stale } } }),
  );

  const { tom, cids } = await sender(Amy, Ben);
  await tom.ok('send', { cid: cids[0], data: 'for Amy' });
  expect(await pushes()).toEqual([]);
  expect(await devicesOf(Amy)).toEqual({});
  // Dropping Amy's entry left Ben's endpoint alone.
  expect((await sns.send(new GetEndpointAttributesCommand({ EndpointArn: bens.endpointArn }))).Attributes).toMatchObject({
    CustomUserData: Ben,
  });
  await tom.ok('send', { cid: cids[1], data: 'for Ben' });
  expect((await pushes()).map((p) => p.endpointArn)).toEqual([bens.endpointArn]);
});

test('a token moving away takes only the entry that still holds it: the first owner’s new token on that device stays', async () => {
  const [Amy, Ben] = h.names('Amy', 'Ben');
  const [oldToken, newOne] = [newToken(), newToken()];
  await registerAndGoOffline(Amy, oldToken, 'phone');
  // The app got a new token on the same device; the old token then turns up on Ben's phone.
  await registerAndGoOffline(Amy, newOne, 'phone');
  await registerAndGoOffline(Ben, oldToken, 'phone');
  expect((await devicesOf(Amy)).phone!.token).toBe(newOne);

  const { tom, cids } = await sender(Amy, Ben);
  await tom.ok('send', { cid: cids[0], data: 'for Amy' });
  expect((await pushes()).map((p) => p.token)).toEqual([newOne]);
  await tom.ok('send', { cid: cids[1], data: 'for Ben' });
  expect((await pushes()).map((p) => p.token)).toEqual([oldToken]);
});
