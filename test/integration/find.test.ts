/** `find` operators one by one (docs/protocol.md §10), on a stack of its own so the data set is known. */
import { TestClient, type Frame } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack({ env: { IM_LOG_LEVEL: 'silent', IM_FIND_MAX_CANDIDATES: '20' } });

type Conv = { cid: string; name: string | null; members?: string[]; createdAt: number; lastMessageAt: number | null };

let a: TestClient;
let c1: Conv;
let c2: Conv;
let c3: Conv;
const byCid = () => new Map([c1, c2, c3].map((c) => [c.cid, c]));

beforeAll(async () => {
  a = await TestClient.open(h.url, 'A');
  const b = await TestClient.open(h.url, 'B');
  c1 = (await a.ok('create', { name: 'alpha', members: ['B'], attributes: { type: 1, tags: ['x', 'y'], level: 3, nested: { k: 'v' } } }))
    .conversation as Conv;
  await new Promise((r) => setTimeout(r, 5));
  c2 = (await a.ok('create', { name: 'beta', members: ['C', 'D'], attributes: { type: 2, level: 5 } })).conversation as Conv;
  await new Promise((r) => setTimeout(r, 5));
  c3 = (await b.ok('create', { name: 'gamma', members: ['C'], attributes: { type: 1 } })).conversation as Conv;
  await b.ok('send', { cid: c3.cid, data: 'first' });
  await new Promise((r) => setTimeout(r, 5));
  await a.ok('send', { cid: c1.cid, data: 'later' });
  await b.close();
});
afterAll(async () => {
  await a.close();
});

async function names(where: Frame | undefined, extra: Frame = {}): Promise<(string | null)[]> {
  const r = await a.request('find', { ...(where ? { where } : {}), ...extra });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return (r.result!.conversations as Conv[]).map((c) => c.name);
}

test.each<[string, Frame, string[]]>([
  ['member equality (alias m)', { m: 'A' }, ['alpha', 'beta']],
  ['members $all', { members: { $all: ['A', 'C'] } }, ['beta']],
  ['members $in', { members: { $in: ['B', 'D'] } }, ['alpha', 'gamma', 'beta']],
  ['members $nin', { members: { $nin: ['A'] } }, ['gamma']],
  ['members $size', { members: { $size: 3 } }, ['beta']],
  ['members exact array', { members: ['B', 'A'] }, ['alpha']],
  ['members $ne', { m: { $ne: 'C' } }, ['alpha']],
  ['name', { name: 'beta' }, ['beta']],
  ['name $in', { name: { $in: ['alpha', 'gamma'] } }, ['alpha', 'gamma']],
  ['name $ne', { name: { $ne: 'alpha' } }, ['gamma', 'beta']],
  ['name $gt (strings)', { name: { $gt: 'alpha' } }, ['gamma', 'beta']],
  ['creator (alias c)', { c: 'B' }, ['gamma']],
  ['attributes equality (alias attr)', { 'attr.type': 1 }, ['alpha', 'gamma']],
  ['attributes $gt', { 'attributes.level': { $gt: 3 } }, ['beta']],
  ['attributes $gte and $lt', { 'attributes.level': { $gte: 3, $lt: 5 } }, ['alpha']],
  ['attributes $lte', { 'attributes.level': { $lte: 5 } }, ['alpha', 'beta']],
  ['array attribute contains', { 'attr.tags': 'x' }, ['alpha']],
  ['array attribute $all', { 'attr.tags': { $all: ['y', 'x'] } }, ['alpha']],
  ['array attribute $size', { 'attr.tags': { $size: 2 } }, ['alpha']],
  ['nested attribute path', { 'attr.nested.k': 'v' }, ['alpha']],
  ['object attribute deep equality', { 'attr.nested': { k: 'v' } }, ['alpha']],
  ['$exists true', { 'attr.level': { $exists: true } }, ['alpha', 'beta']],
  ['$exists false', { 'attr.level': { $exists: false } }, ['gamma']],
  ['lastMessageAt $exists false (alias lm)', { lm: { $exists: false } }, ['beta']],
  ['transient (alias tr)', { tr: false }, ['alpha', 'gamma', 'beta']],
  ['$in on attributes', { 'attr.type': { $in: [2, 3] } }, ['beta']],
  ['$nin on attributes', { 'attr.type': { $nin: [2] } }, ['alpha', 'gamma']],
  ['$or', { $or: [{ name: 'alpha' }, { creator: 'B' }] }, ['alpha', 'gamma']],
  ['$or ANDed with a top-level key', { 'attr.type': 1, $or: [{ name: 'alpha' }, { name: 'beta' }] }, ['alpha']],
])('%s', async (_label, where, expected) => {
  expect(await names(where)).toEqual(expected);
});

test('cid and objectId', async () => {
  expect(await names({ cid: c2.cid })).toEqual(['beta']);
  expect(await names({ objectId: { $in: [c1.cid, c3.cid] } })).toEqual(['alpha', 'gamma']);
});

test('time comparisons take milliseconds or a Date object', async () => {
  expect(await names({ createdAt: { $gte: c2.createdAt } })).toEqual(['gamma', 'beta']);
  expect(await names({ createdAt: { $lt: { __type: 'Date', iso: new Date(c2.createdAt).toISOString() } } })).toEqual(['alpha']);
});

test('default sort is -lastMessageAt (no messages last); sort keys, limit and skip', async () => {
  expect(await names(undefined)).toEqual(['alpha', 'gamma', 'beta']);
  expect(await names(undefined, { sort: 'name' })).toEqual(['alpha', 'beta', 'gamma']);
  expect(await names(undefined, { sort: '-name' })).toEqual(['gamma', 'beta', 'alpha']);
  expect(await names(undefined, { sort: 'attr.level,-createdAt' })).toEqual(['alpha', 'beta', 'gamma']);
  expect(await names(undefined, { sort: 'createdAt', limit: 2 })).toEqual(['alpha', 'beta']);
  expect(await names(undefined, { sort: 'createdAt', limit: 2, skip: 2 })).toEqual(['gamma']);
});

test('results are full conversation objects with members', async () => {
  const r = await a.ok('find', { where: { name: 'beta' } });
  const conv = (r.conversations as Conv[])[0]!;
  expect(conv).toEqual({ ...byCid().get(c2.cid), members: ['A', 'C', 'D'], muted: false, lastMessageAt: null });
});

test('compact leaves out member lists; lastMessage adds each newest message (null without one)', async () => {
  const r = await a.ok('find', { where: { cid: { $in: [c1.cid, c2.cid] } }, sort: 'createdAt', compact: true, lastMessage: true });
  const [first, second] = r.conversations as (Conv & { lastMessage: { data: string; from: string } | null })[];
  expect(first).not.toHaveProperty('members');
  expect(first!.lastMessage).toMatchObject({ cid: c1.cid, from: 'A', data: 'later' });
  expect(second!.lastMessage).toBeNull();
  // Without the options: neither.
  const plain = (await a.ok('find', { where: { cid: c1.cid } })).conversations as Conv[];
  expect(plain[0]).toHaveProperty('members');
  expect(plain[0]).not.toHaveProperty('lastMessage');
});

test.each<[string, Frame]>([
  ['unknown key', { where: { colour: 'red' } }],
  ['unknown operator', { where: { name: { $regex: '^a' } } }],
  ['operator at top level', { where: { $and: [] } }],
  ['nested $or', { where: { $or: [{ $or: [{ name: 'a' }] }] } }],
  ['$or not an array', { where: { $or: { name: 'a' } } }],
  ['mixed operators and keys', { where: { 'attr.x': { $gt: 1, plain: 2 } } }],
  ['$size on name', { where: { name: { $size: 1 } } }],
  ['$gt on members', { where: { m: { $gt: 'a' } } }],
  ['$in not an array', { where: { name: { $in: 'alpha' } } }],
  ['bad member id', { where: { m: 'not a client id' } }],
  ['transient not boolean', { where: { tr: 'no' } }],
  ['attribute path with $', { where: { 'attr.$where': 1 } }],
  ['sort by members', { sort: 'm' }],
  ['sort by unknown key', { sort: 'colour' }],
  ['where not an object', { where: ['name'] }],
  ['limit over 100', { limit: 101 }],
  ['skip over 1000', { skip: 1001 }],
  ['prototype key', { where: JSON.parse('{"__proto__": {"x": 1}}') as Frame }],
])('strict validation: %s → 4114', async (_label, fields) => {
  expect((await a.request('find', fields)).error).toMatchObject({ code: 4114, name: 'UNPARSEABLE_RAW_MESSAGE' });
});

test('values that look like expressions are only compared, never executed', async () => {
  expect(await names({ name: "alpha' OR 1=1 --" })).toEqual([]);
  expect(await names({ 'attr.#type': 1 })).toEqual([]);
  expect(await names({ name: { $in: [':v', '#k', 'alpha'] } })).toEqual(['alpha']);
});

test('beyond the candidate bound: indexed queries still answer, unindexed ones get 4310', async () => {
  const bulk = await TestClient.open(h.url, 'Bulk');
  for (let i = 0; i < 20; i++) await bulk.ok('create', { name: `bulk${i}` });
  expect((await a.request('find', { where: { 'attr.type': 1 } })).error).toMatchObject({ code: 4310, name: 'CONVERSATION_QUERY_FAILED' });
  expect(await names({ m: 'A' })).toEqual(['alpha', 'beta']);
  expect(await names({ name: 'bulk7' })).toEqual(['bulk7']);
  // A client in more conversations than the bound cannot be listed in one find either.
  for (let i = 0; i < 2; i++) await bulk.ok('create', { name: `bulk-extra${i}` });
  expect((await a.request('find', { where: { m: 'Bulk' } })).error).toMatchObject({ code: 4310 });
  await bulk.close();
});
