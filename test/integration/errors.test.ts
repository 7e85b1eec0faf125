/** Every error path of the foundation actions (docs/protocol.md §13), and that none leaves partial state. */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { TestClient, type Frame } from '../helpers/client';
import { RawLeanCloud } from '../helpers/leancloud';
import { useStack } from '../helpers/stack';

const h = useStack();
const open = async (clientId: string) => h.track(await TestClient.open(h.url, clientId));
const connect = async () => h.track(await TestClient.connect(h.url));

async function countItems(table: 'conversations' | 'members' | 'messages'): Promise<number> {
  const res = await h.stack.deps.db.send(new ScanCommand({ TableName: h.stack.config.tables[table], Select: 'COUNT' }));
  return res.Count ?? 0;
}

async function expectError(c: TestClient, action: string, fields: Frame, code: number, name: string): Promise<void> {
  const r = await c.request(action, fields);
  expect({ action, fields, ok: r.ok, error: r.error && { code: r.error.code, name: r.error.name } }).toEqual({
    action,
    fields,
    ok: false,
    error: { code, name },
  });
  expect(r.reply).toBe(action);
  expect(typeof r.error!.message).toBe('string');
}

describe('session errors', () => {
  test.each(['close', 'create', 'send', 'ack', 'query'])('%s before open → 4105', async (action) => {
    const c = await connect();
    await expectError(c, action, { cid: 'x', data: 'x', messageIds: ['x'] }, 4105, 'SESSION_REQUIRED');
  });

  test('ping needs no session', async () => {
    const c = await connect();
    expect(await c.request('ping')).toMatchObject({ reply: 'ping', ok: true, result: {} });
  });

  test.each([
    ['empty', ''],
    ['space', 'a b'],
    ['too long', 'x'.repeat(65)],
    ['non-ascii', 'тест'],
    ['number', 42],
    ['missing', undefined],
  ])('open with a malformed clientId (%s) → 4103', async (_label, clientId) => {
    const c = await connect();
    await expectError(c, 'open', clientId === undefined ? {} : { clientId }, 4103, 'INVALID_LOGIN');
  });

  test('a connection stays bound to its client until close', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const c = await open(Tom);
    await expectError(c, 'open', { clientId: Bob }, 4103, 'INVALID_LOGIN');
    expect((await c.ok('open', { clientId: Tom })).clientId).toBe(Tom);
    await c.ok('close');
    await expectError(c, 'send', { cid: 'x', data: 'x' }, 4105, 'SESSION_REQUIRED');
    expect((await c.ok('open', { clientId: Bob })).clientId).toBe(Bob);
  });

  test('identity comes from the session, never from the frame', async () => {
    const [Tom, Bob, Eve] = h.names('Tom', 'Bob', 'Eve');
    const tom = await open(Tom);
    const bob = await open(Bob);
    const eve = await open(Eve);
    const conv = (await tom.ok('create', { members: [Bob] })).conversation as { cid: string };
    await expectError(eve, 'send', { cid: conv.cid, data: 'spoof', clientId: Tom, from: Tom }, 4401, 'INVALID_MESSAGING_TARGET');
    await tom.ok('send', { cid: conv.cid, data: 'real', clientId: Bob, from: Bob });
    const ev = await bob.event('message');
    expect((ev.message as { from: string }).from).toBe(Tom);
  });
});

describe('request validation → 4114', () => {
  let c: TestClient;
  let cid: string;
  beforeEach(async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    c = await open(Tom);
    cid = ((await c.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
  });

  test.each<[string, Frame]>([
    ['send', { data: 'no cid' }],
    ['send', { cid: 'CID', data: 7 }],
    ['send', { cid: 'CID' }],
    ['send', { cid: 'CID', data: 'x', clientMsgId: 'k'.repeat(65) }],
    ['send', { cid: 'CID', data: 'x', transient: 'yes' }],
    ['send', { cid: 'CID', data: 'x', pushData: [] }],
    ['ack', { cid: 'CID', messageIds: [] }],
    ['ack', { cid: 'CID', messageIds: Array.from({ length: 101 }, (_, i) => `m${i}`) }],
    ['ack', { cid: 'CID', messageIds: 'm1' }],
    ['query', { cid: 'CID', limit: 0 }],
    ['query', { cid: 'CID', limit: 1001 }],
    ['query', { cid: 'CID', limit: 1.5 }],
    ['query', { cid: 'CID', before: {} }],
    ['query', { cid: 'CID', before: { messageId: 'not-an-id-of-ours' } }],
    ['create', { members: 'Bob' }],
    ['create', { members: ['ok', 'not ok'] }],
    ['create', { name: 'n'.repeat(257) }],
    ['create', { attributes: { 'a.b': 1 } }],
    ['create', { attributes: { $set: 1 } }],
    ['create', { attributes: JSON.parse('{"__proto__": {"polluted": true}}') as Frame }],
    ['create', { attributes: { nested: { constructor: 1 } } }],
    ['create', { attributes: [1, 2] }],
    ['open', { clientId: 'x', unreadMode: 'true' }],
    ['open', { clientId: 'x', pushPlatform: 'GCM' }],
  ])('%s %j', async (action, fields) => {
    const withCid = JSON.parse(JSON.stringify(fields).replace(/"CID"/g, JSON.stringify(cid))) as Frame;
    const before = await countItems('conversations');
    await expectError(c, action, withCid, action === 'open' ? 4114 : 4114, 'UNPARSEABLE_RAW_MESSAGE');
    expect(await countItems('conversations')).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('unknown fields are ignored (forward compatible)', async () => {
    expect((await c.request('send', { cid, data: 'x', futureField: { a: 1 } })).ok).toBe(true);
  });
});

describe('conversation and message errors', () => {
  test('send to a missing conversation or one you are not in → 4401', async () => {
    const [Tom, Bob, Eve] = h.names('Tom', 'Bob', 'Eve');
    const tom = await open(Tom);
    const eve = await open(Eve);
    const conv = (await tom.ok('create', { members: [Bob] })).conversation as { cid: string };
    await expectError(tom, 'send', { cid: '000000000000000000000000', data: 'x' }, 4401, 'INVALID_MESSAGING_TARGET');
    const stored = await countItems('messages');
    await expectError(eve, 'send', { cid: conv.cid, data: 'x' }, 4401, 'INVALID_MESSAGING_TARGET');
    await expectError(eve, 'send', { cid: conv.cid, data: 'x', transient: true }, 4401, 'INVALID_MESSAGING_TARGET');
    expect(await countItems('messages')).toBe(stored);
  });

  test('query by a non-member → 4312, of a missing conversation → 4303', async () => {
    const [Tom, Bob, Eve] = h.names('Tom', 'Bob', 'Eve');
    const tom = await open(Tom);
    const eve = await open(Eve);
    const conv = (await tom.ok('create', { members: [Bob] })).conversation as { cid: string };
    await tom.ok('send', { cid: conv.cid, data: 'secret' });
    await expectError(eve, 'query', { cid: conv.cid }, 4312, 'CONVERSATION_LOG_REJECTED');
    await expectError(eve, 'query', { cid: 'ffffffffffffffffffffffff' }, 4303, 'CONVERSATION_NOT_FOUND');
  });

  test('more than 500 members → 4304 and nothing is written', async () => {
    const [Tom] = h.names('Tom');
    const tom = await open(Tom);
    const before = [await countItems('conversations'), await countItems('members')];
    const members = Array.from({ length: 500 }, (_, i) => `user${i}`);
    await expectError(tom, 'create', { members }, 4304, 'CONVERSATION_FULL');
    expect([await countItems('conversations'), await countItems('members')]).toEqual(before);
    // 499 others + the creator is exactly the limit.
    const ok = await tom.request('create', { members: members.slice(0, 499) });
    expect(ok.ok).toBe(true);
  });

  test('attributes over 4 KB → 4109', async () => {
    const [Tom] = h.names('Tom');
    const tom = await open(Tom);
    await expectError(tom, 'create', { attributes: { blob: 'x'.repeat(4100) } }, 4109, 'FRAME_TOO_LONG');
  });

  test('acks of unknown or foreign ids move nothing', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const tom = await open(Tom);
    const conv = (await tom.ok('create', { members: [Bob] })).conversation as { cid: string };
    const sent = await tom.ok('send', { cid: conv.cid, data: 'one' });
    let bob = await open(Bob);
    await bob.event('message');
    // A forged id with a plausible shape but a wrong random part.
    const forged = String(sent.messageId).replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A'));
    expect((await bob.request('ack', { cid: conv.cid, messageIds: [forged, 'garbage'] })).ok).toBe(true);
    await bob.close();
    bob = await open(Bob);
    expect(((await bob.event('message')).message as { data: string }).data).toBe('one');
  });
});

describe('unroutable frames', () => {
  test('unknown action, missing action, non-object JSON: 4114 when an id is present; the socket stays open', async () => {
    const c = await connect();
    c.send({ action: 'teleport', id: 'a1' });
    expect(await c.waitFor((f) => f.id === 'a1')).toMatchObject({ reply: 'teleport', ok: false, error: { code: 4114 } });
    c.send({ id: 'a2' });
    expect(await c.waitFor((f) => f.id === 'a2')).toMatchObject({ reply: null, ok: false, error: { code: 4114 } });
    c.send({ action: 42, id: 7 });
    expect(await c.waitFor((f) => f.id === 7)).toMatchObject({ reply: null, ok: false, error: { code: 4114 } });
    c.send({ action: '$connect', id: 'a3' });
    expect(await c.waitFor((f) => f.id === 'a3')).toMatchObject({ ok: false, error: { code: 4114 } });
    c.sendRaw('this is not json');
    c.sendRaw('[1,2,3]');
    c.sendRaw('"just a string"');
    c.send({ action: 'teleport' });
    expect(await c.request('ping')).toMatchObject({ ok: true });
    expect(c.frames).toEqual([]);
  });

  test('an invalid id is answered without echoing it', async () => {
    const c = await connect();
    c.send({ action: 'ping', id: { nested: true } });
    const r = await c.waitFor((f) => f.reply === 'ping');
    expect(r).toMatchObject({ ok: false, error: { code: 4114 } });
    expect(r.id).toBeUndefined();
  });

  test('integer ids are echoed as integers', async () => {
    const c = await connect();
    c.send({ action: 'ping', id: 12 });
    expect(await c.waitFor((f) => f.reply === 'ping')).toEqual({ reply: 'ping', id: 12, ok: true, result: {} });
  });
});

describe('ill-formed UTF-16 → 4114 (DynamoDB stores UTF-8: a lone surrogate would be stored as U+FFFD)', () => {
  let tom: TestClient;
  let cid: string;
  beforeEach(async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    tom = await open(Tom);
    cid = ((await tom.ok('create', { members: [Bob] })).conversation as { cid: string }).cid;
  });

  test('clientMsgIds that differ only in a lone surrogate are refused, not taken for one message', async () => {
    const stored = await countItems('messages');
    const first = await tom.request('send', { cid, data: 'first', clientMsgId: 'dup\ud800' });
    const second = await tom.request('send', { cid, data: 'second', clientMsgId: 'dup\ud801' });
    // Before the fix the second was answered ok with the first one's messageId, and dropped.
    for (const r of [second, first]) {
      expect(r).toMatchObject({ ok: false, error: { code: 4114, name: 'UNPARSEABLE_RAW_MESSAGE' } });
      expect(r.error!.message).toMatch(/^clientMsgId /);
    }
    expect(await countItems('messages')).toBe(stored);
    // Well-formed surrogate pairs are ordinary characters.
    expect((await tom.request('send', { cid, data: '😀', clientMsgId: 'dup😀' })).ok).toBe(true);
  });

  test.each<[string, Frame, RegExp]>([
    ['send', { cid: 'CID', data: 'x\ud800' }, /^data /],
    ['send', { cid: 'CID', data: 'x\udc00y' }, /^data /],
    ['send', { cid: 'CID', data: 'x', pushData: { alert: { nested: ['ok', 'lone\udfff'] } } }, /^pushData\.alert\.nested\[1\] /],
    ['create', { attributes: { a: { b: { c: 'lone\ud83d' } } } }, /^attributes\.a\.b\.c /],
    ['create', { attributes: { a: { ['key\ud800']: 1 } } }, /^a key in attributes\.a /],
    ['create', { name: '\udead' }, /^name /],
    ['update', { cid: 'CID', attributes: { color: '\ud800\ud800' } }, /^attributes\.color /],
    ['find', { where: { name: 'x\ud800' } }, /^where\.name /],
    ['open', { clientId: 'x', tag: 'phone\ud800' }, /^tag /],
  ])('%s %j', async (action, fields, named) => {
    const withCid = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v === 'CID' ? cid : v]));
    const before = [await countItems('conversations'), await countItems('messages')];
    const r = await tom.request(action, withCid);
    expect(r).toMatchObject({ reply: action, ok: false, error: { code: 4114, name: 'UNPARSEABLE_RAW_MESSAGE' } });
    expect(r.error!.message).toMatch(named);
    expect([await countItems('conversations'), await countItems('messages')]).toEqual(before);
  });

  test('an id with a lone surrogate is refused, naming the id', async () => {
    const c = await connect();
    c.send({ action: 'ping', id: 'p\ud800' });
    const r = await c.waitFor((f) => f.reply === 'ping');
    expect(r).toMatchObject({ ok: false, error: { code: 4114 } });
    expect((r.error as { message: string }).message).toMatch(/^id /);
  });
});

describe('ill-formed UTF-16 in the JSON of LeanCloud commands → 4114', () => {
  test('conv/start attributes and direct pushData', async () => {
    const [Tom, Bob] = h.names('Tom', 'Bob');
    const lc = await RawLeanCloud.connect(h.url);
    try {
      await lc.request({ cmd: 'session', op: 'open', peerId: Tom, sessionMessage: {} });
      const before = await countItems('conversations');
      // The JSON text itself is ASCII: the lone surrogate comes from its \u escape.
      const bad = await lc.request({
        cmd: 'conv',
        op: 'start',
        convMessage: { m: [Tom, Bob], attr: { data: '{"name":"n","color":"\\ud800"}' } },
      });
      expect(bad).toMatchObject({ cmd: 'error', errorMessage: { code: 4114, reason: 'UNPARSEABLE_RAW_MESSAGE' } });
      expect((bad.errorMessage as { detail: string }).detail).toMatch(/color/);
      expect(await countItems('conversations')).toBe(before);

      const started = await lc.request({ cmd: 'conv', op: 'start', convMessage: { m: [Tom, Bob], attr: { data: '{"name":"n"}' } } });
      const cid = (started.convMessage as { cid: string }).cid;
      const stored = await countItems('messages');
      const sent = await lc.request({ cmd: 'direct', directMessage: { cid, msg: 'hi', dt: 'd1', pushData: '{"alert":"\\udc00"}' } });
      expect(sent).toMatchObject({ cmd: 'error', errorMessage: { code: 4114 } });
      expect((sent.errorMessage as { detail: string }).detail).toMatch(/^pushData\.alert /);
      expect(await countItems('messages')).toBe(stored);
    } finally {
      lc.close();
    }
  });
});
