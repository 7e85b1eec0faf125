/** Per-client rate limits → 4116 without doing the work (sends and other actions separately). */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { TestClient } from '../helpers/client';
import { useStack } from '../helpers/stack';

let clock = Date.UTC(2026, 10, 26, 12, 0, 0);
const h = useStack({ now: () => clock, env: { IM_LOG_LEVEL: 'silent', IM_RATE_SEND_PER_10S: '3', IM_RATE_OTHER_PER_10S: '5' } });

async function stored(cid: string): Promise<number> {
  const res = await h.stack.deps.db.send(
    new ScanCommand({ TableName: h.stack.config.tables.messages, FilterExpression: 'cid = :c', ExpressionAttributeValues: { ':c': cid } }),
  );
  return res.Count ?? 0;
}

test('sends over the budget get 4116 and store nothing; other actions have their own budget; the next window resets', async () => {
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const tom = h.track(await TestClient.open(h.url, Tom));
  const bob = h.track(await TestClient.open(h.url, Bob));
  const cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
  for (let i = 0; i < 3; i++) await tom.ok('send', { cid, data: `m${i}` });
  const over = await tom.request('send', { cid, data: 'too many' });
  expect(over.error).toMatchObject({ code: 4116, name: 'MESSAGE_SENT_QUOTA_EXCEEDED' });
  expect(await stored(cid)).toBe(3);
  // Bob's budget is his own; Tom's other actions are counted apart from his sends.
  await bob.ok('send', { cid, data: 'bob' });
  // create was one of Tom's 5 other requests.
  for (let i = 0; i < 4; i++) await tom.ok('query', { cid });
  expect((await tom.request('query', { cid })).error?.code).toBe(4116);
  // Exempt: ping, ack, close.
  await tom.ok('ping');
  for (let i = 0; i < 10; i++) expect((await tom.request('ack', { cid, messageIds: ['AAAAAAAAAAAA.1'] })).ok).toBe(true);
  clock += 10_000;
  expect((await tom.request('send', { cid, data: 'next window' })).ok).toBe(true);
});

test('LeanCloud SDK sends spend the same budget (the SDK gets error 4116)', async () => {
  const { Realtime, TextMessage } = require('leancloud-realtime') as {
    Realtime: new (o: object) => {
      createIMClient(
        id: string,
      ): Promise<{ createConversation(o: object): Promise<{ send(m: object): Promise<unknown> }>; close(): Promise<void> }>;
      _close(): void;
    };
    TextMessage: new (t: string) => object;
  };
  const [Tom, Bob] = h.names('Tom', 'Bob');
  const rt = new Realtime({
    appId: 'local-app',
    appKey: 'k',
    RTMServers: [h.url],
    noBinary: true,
    server: { RTMRouter: '127.0.0.1:9', api: '127.0.0.1:9' },
  });
  try {
    const tom = await rt.createIMClient(Tom);
    const conv = await tom.createConversation({ members: [Bob] });
    for (let i = 0; i < 3; i++) await conv.send(new TextMessage(`m${i}`));
    await expect(conv.send(new TextMessage('too many'))).rejects.toMatchObject({ code: 4116 });
    await tom.close();
  } finally {
    rt._close();
  }
});
