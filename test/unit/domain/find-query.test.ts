import { ImError } from '../../../lambdas/protocol/errors';
import {
  FIND_MAX_LIST,
  FIND_MAX_MEMBER_TESTS,
  comparator,
  deepEqual,
  fieldOf,
  matches,
  memberCandidates,
  membershipTests,
  parseSort,
  parseWhere,
  planBranch,
  stringValues,
  tooExpensive,
  type Candidate,
} from '../../../lambdas/domain/find-query';

/** `code: message` of the ImError `fn` throws, or 'ok'. */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof ImError) return `${e.code}: ${e.message}`;
    throw e;
  }
}

/** The where is refused with 4114 and a message matching `why`. */
function refused(where: Record<string, unknown>, why: RegExp | string): void {
  const text = outcome(() => parseWhere(where));
  expect(text).toMatch(/^4114: where: /);
  expect(text).toMatch(why);
}

function candidate(record: Record<string, unknown>, members: string[] = [], transient = false): Candidate {
  return { record, memberCount: members.length, transient, hasMember: (c) => members.includes(c) };
}

/** Whether a conversation (record + members) matches a where, as `find` decides it. */
function hit(where: Record<string, unknown>, record: Record<string, unknown>, members: string[] = [], transient = false): boolean {
  const c = candidate({ cid: 'c1', ...record }, members, transient);
  return parseWhere(where).some((branch) => matches(c, branch));
}

const ISO = '2024-01-01T00:00:00.000Z';
const MS = Date.parse(ISO);
const date = (iso: string) => ({ __type: 'Date', iso });

describe('fieldOf', () => {
  test('native names and LeanCloud aliases', () => {
    expect(fieldOf('cid')).toBe('cid');
    expect(fieldOf('objectId')).toBe('cid');
    expect(fieldOf('name')).toBe('name');
    expect(fieldOf('creator')).toBe('creator');
    expect(fieldOf('c')).toBe('creator');
    expect(fieldOf('members')).toBe('members');
    expect(fieldOf('m')).toBe('members');
    expect(fieldOf('transient')).toBe('transient');
    expect(fieldOf('tr')).toBe('transient');
    expect(fieldOf('createdAt')).toBe('createdAt');
    expect(fieldOf('updatedAt')).toBe('updatedAt');
    expect(fieldOf('lastMessageAt')).toBe('lastMessageAt');
    expect(fieldOf('lm')).toBe('lastMessageAt');
  });
  test('attribute paths, as attributes.* or attr.*, up to 5 keys deep', () => {
    expect(fieldOf('attributes.type')).toBe('attributes.type');
    expect(fieldOf('attr.type')).toBe('attributes.type');
    expect(fieldOf('attr.a.b.c.d.e')).toBe('attributes.a.b.c.d.e');
  });
  test('anything else is 4114', () => {
    expect(outcome(() => fieldOf('nope'))).toBe('4114: where: unknown key "nope"');
    expect(outcome(() => fieldOf('attributes'))).toMatch(/unknown key "attributes"/);
    expect(outcome(() => fieldOf('attr.'))).toMatch(/unknown key "attr\."/);
    expect(outcome(() => fieldOf('Name'))).toMatch(/unknown key "Name"/);
    expect(outcome(() => fieldOf('lastMessage'))).toMatch(/unknown key/);
    expect(outcome(() => fieldOf('attr.a.b.c.d.e.f'))).toBe('4114: where: invalid attribute path "attr.a.b.c.d.e.f"');
    expect(outcome(() => fieldOf('attr.a..b'))).toMatch(/invalid attribute path/);
    expect(outcome(() => fieldOf('attr.$where'))).toMatch(/invalid attribute path/);
    expect(outcome(() => fieldOf('attributes.a.$gt'))).toMatch(/invalid attribute path/);
  });
});

describe('parseWhere: shape', () => {
  test('no where, or an empty one, is one branch without conditions (everything matches)', () => {
    expect(parseWhere(undefined)).toEqual([[]]);
    expect(parseWhere({})).toEqual([[]]);
    expect(hit({}, { name: 'x' })).toBe(true);
  });
  test('a plain value is $eq; keys are ANDed in one branch', () => {
    expect(parseWhere({ name: 'a', c: 'bob' })).toEqual([
      [
        { field: 'name', op: '$eq', value: 'a' },
        { field: 'creator', op: '$eq', value: 'bob' },
      ],
    ]);
  });
  test('an operator object gives one condition per operator', () => {
    expect(parseWhere({ createdAt: { $gte: 1, $lt: 5 } })).toEqual([
      [
        { field: 'createdAt', op: '$gte', value: 1 },
        { field: 'createdAt', op: '$lt', value: 5 },
      ],
    ]);
  });
  test('$or: one branch per entry, each with the top-level conditions first', () => {
    expect(parseWhere({ $or: [{ name: 'a' }, { c: 'bob' }], tr: false })).toEqual([
      [
        { field: 'transient', op: '$eq', value: false },
        { field: 'name', op: '$eq', value: 'a' },
      ],
      [
        { field: 'transient', op: '$eq', value: false },
        { field: 'creator', op: '$eq', value: 'bob' },
      ],
    ]);
  });
  test('$or takes 1 to 10 where objects, only at the top level', () => {
    expect(parseWhere({ $or: Array.from({ length: 10 }, (_, i) => ({ name: `n${i}` })) })).toHaveLength(10);
    refused({ $or: [] }, '$or needs an array of 1-10 where objects');
    refused({ $or: Array.from({ length: 11 }, () => ({ name: 'x' })) }, '$or needs an array of 1-10');
    refused({ $or: { name: 'a' } }, '$or needs an array');
    refused({ $or: ['name'] }, '$or entries must be objects');
    refused({ $or: [null] }, '$or entries must be objects');
    refused({ $or: [['a']] }, '$or entries must be objects');
    refused({ $or: [{ $or: [{ name: 'a' }] }] }, '$or is only allowed at the top level');
  });
  test('other top-level operators are unknown', () => {
    refused({ $and: [{ name: 'a' }] }, 'unknown operator "$and" at the top level');
    refused({ $where: 'sleep(1000)' }, 'unknown operator "$where" at the top level');
    refused({ $or: [{ $and: [] }] }, 'unknown operator "$and" at the top level');
  });
  test('unknown operators on a field, and operators mixed with plain keys, are 4114', () => {
    refused({ name: { $regex: '^a' } }, 'unknown operator "$regex"');
    refused({ name: { $eq: 'a', $like: 'b' } }, 'unknown operator "$like"');
    refused({ 'attr.x': { $eq: 1, y: 2 } }, '"attr.x" mixes operators and plain keys');
  });
  test('an object without operators is a value (attributes compare deeply)', () => {
    expect(parseWhere({ 'attr.x': { a: 1 } })).toEqual([[{ field: 'attributes.x', op: '$eq', value: { a: 1 } }]]);
    expect(parseWhere({ 'attr.x': {} })).toEqual([[{ field: 'attributes.x', op: '$eq', value: {} }]]);
  });
});

describe('parseWhere: values per field', () => {
  test('cid, name and creator need strings; name may be null', () => {
    expect(outcome(() => parseWhere({ cid: 'x', name: 'y', creator: 'z' }))).toBe('ok');
    expect(parseWhere({ name: null })).toEqual([[{ field: 'name', op: '$eq', value: null }]]);
    refused({ cid: 1 }, 'cid needs a string');
    refused({ cid: null }, 'cid needs a string');
    refused({ c: true }, 'creator needs a string');
    refused({ name: 5 }, 'name needs a string');
    refused({ objectId: ['a'] }, 'cid needs a string');
  });
  test('members need client ids', () => {
    expect(parseWhere({ m: 'alice.b-c_d@x' })).toEqual([[{ field: 'members', op: '$eq', value: 'alice.b-c_d@x' }]]);
    refused({ m: 'two words' }, 'members values must be client ids');
    refused({ m: '' }, 'members values must be client ids');
    refused({ m: 'x'.repeat(65) }, 'members values must be client ids');
    refused({ m: 7 }, 'members values must be client ids');
    refused({ m: { $in: ['ok', 'not ok'] } }, 'members values must be client ids');
  });
  test('transient needs a boolean', () => {
    expect(parseWhere({ tr: true })).toEqual([[{ field: 'transient', op: '$eq', value: true }]]);
    refused({ tr: 'true' }, 'transient needs a boolean');
    refused({ transient: 1 }, 'transient needs a boolean');
  });
  test('times are milliseconds or LeanCloud Date objects; null asks for none', () => {
    expect(parseWhere({ createdAt: 5 })).toEqual([[{ field: 'createdAt', op: '$eq', value: 5 }]]);
    expect(parseWhere({ lm: date(ISO) })).toEqual([[{ field: 'lastMessageAt', op: '$eq', value: MS }]]);
    expect(parseWhere({ updatedAt: { $gt: date(ISO) } })).toEqual([[{ field: 'updatedAt', op: '$gt', value: MS }]]);
    expect(parseWhere({ lm: null })).toEqual([[{ field: 'lastMessageAt', op: '$eq', value: null }]]);
    refused({ createdAt: '2024-01-01' }, 'createdAt needs a number of milliseconds or a Date object');
    refused({ createdAt: date('not a date') }, 'createdAt needs a number');
    refused({ createdAt: { __type: 'Date' } }, 'createdAt needs a number');
    refused({ createdAt: { __type: 'Pointer', iso: ISO } }, 'createdAt needs a number');
    refused({ createdAt: { $gt: null } }, 'createdAt needs a number');
    refused({ lm: { $in: [1, 'x'] } }, 'lastMessageAt needs a number');
  });
  test('attributes hold any JSON value', () => {
    for (const v of ['s', 1, true, null, [1, 2], { a: [1] }]) expect(outcome(() => parseWhere({ 'attr.x': v }))).toBe('ok');
  });
});

describe('parseWhere: operators', () => {
  test('$in and $nin take 1 to FIND_MAX_LIST values, each checked for the field', () => {
    expect(parseWhere({ cid: { $in: ['a', 'b'] } })).toEqual([[{ field: 'cid', op: '$in', value: ['a', 'b'] }]]);
    expect(parseWhere({ name: { $nin: ['a', null] } })).toEqual([[{ field: 'name', op: '$nin', value: ['a', null] }]]);
    expect(parseWhere({ lm: { $in: [date(ISO), 3] } })).toEqual([[{ field: 'lastMessageAt', op: '$in', value: [MS, 3] }]]);
    expect(outcome(() => parseWhere({ cid: { $in: Array.from({ length: FIND_MAX_LIST }, (_, i) => `c${i}`) } }))).toBe('ok');
    refused(
      { cid: { $in: Array.from({ length: FIND_MAX_LIST + 1 }, (_, i) => `c${i}`) } },
      `$in on cid needs an array of 1-${FIND_MAX_LIST} values`,
    );
    refused({ cid: { $in: [] } }, '$in on cid needs an array');
    refused({ cid: { $in: 'a' } }, '$in on cid needs an array');
    refused({ name: { $nin: [1] } }, 'name needs a string');
  });
  test('$all applies to members and attributes only', () => {
    expect(parseWhere({ m: { $all: ['a', 'b'] } })).toEqual([[{ field: 'members', op: '$all', value: ['a', 'b'] }]]);
    expect(parseWhere({ 'attr.tags': { $all: ['x'] } })).toEqual([[{ field: 'attributes.tags', op: '$all', value: ['x'] }]]);
    refused({ name: { $all: ['a'] } }, '$all applies to members or array attributes');
    refused({ m: { $all: [] } }, '$all on members needs an array');
  });
  test('$size applies to members and attributes, with a non-negative integer', () => {
    expect(parseWhere({ m: { $size: 2 } })).toEqual([[{ field: 'members', op: '$size', value: 2 }]]);
    expect(parseWhere({ 'attr.tags': { $size: 0 } })).toEqual([[{ field: 'attributes.tags', op: '$size', value: 0 }]]);
    refused({ name: { $size: 1 } }, '$size applies to members or array attributes');
    refused({ m: { $size: -1 } }, '$size needs a non-negative integer');
    refused({ m: { $size: 1.5 } }, '$size needs a non-negative integer');
    refused({ m: { $size: '2' } }, '$size needs a non-negative integer');
  });
  test('$exists needs a boolean', () => {
    expect(parseWhere({ name: { $exists: false } })).toEqual([[{ field: 'name', op: '$exists', value: false }]]);
    refused({ name: { $exists: 1 } }, '$exists needs a boolean');
  });
  test('$gt, $gte, $lt, $lte: numbers or strings, times converted, not on members or transient', () => {
    expect(parseWhere({ name: { $gt: 'a' }, 'attr.n': { $lte: 3 } })).toEqual([
      [
        { field: 'name', op: '$gt', value: 'a' },
        { field: 'attributes.n', op: '$lte', value: 3 },
      ],
    ]);
    expect(parseWhere({ createdAt: { $gte: date(ISO), $lt: MS + 1 } })).toEqual([
      [
        { field: 'createdAt', op: '$gte', value: MS },
        { field: 'createdAt', op: '$lt', value: MS + 1 },
      ],
    ]);
    refused({ m: { $gt: 'a' } }, '$gt does not apply to members');
    refused({ tr: { $lt: true } }, '$lt does not apply to transient');
    refused({ name: { $gte: null } }, '$gte needs a number or a string');
    refused({ 'attr.x': { $lte: { a: 1 } } }, '$lte needs a number or a string');
    refused({ 'attr.x': { $gt: [1] } }, '$gt needs a number or a string');
  });
  test('$eq and $ne: a members list is the whole member set', () => {
    expect(parseWhere({ m: ['a', 'b'] })).toEqual([[{ field: 'members', op: '$eq', value: ['a', 'b'] }]]);
    expect(parseWhere({ m: { $ne: ['a'] } })).toEqual([[{ field: 'members', op: '$ne', value: ['a'] }]]);
    expect(parseWhere({ m: { $ne: 'a' } })).toEqual([[{ field: 'members', op: '$ne', value: 'a' }]]);
    refused({ m: [] }, '$eq on members needs an array');
    refused({ name: { $ne: 1 } }, 'name needs a string');
  });
});

describe('matches: scalar fields', () => {
  const rec = { cid: 'c1', name: 'alpha', creator: 'bob', transient: false, createdAt: 100, lastMessageAt: null, attributes: {} };
  test('$eq, with null matching a missing or null value', () => {
    expect(hit({ name: 'alpha' }, rec)).toBe(true);
    expect(hit({ name: 'beta' }, rec)).toBe(false);
    expect(hit({ name: null }, { ...rec, name: undefined })).toBe(true);
    expect(hit({ name: null }, rec)).toBe(false);
    expect(hit({ lm: null }, { ...rec, lastMessageAt: undefined })).toBe(true);
    expect(hit({ objectId: 'c1' }, rec)).toBe(true);
    expect(hit({ tr: false }, rec)).toBe(true);
    expect(hit({ tr: true }, rec)).toBe(false);
  });
  test('$ne', () => {
    expect(hit({ c: { $ne: 'bob' } }, rec)).toBe(false);
    expect(hit({ c: { $ne: 'eve' } }, rec)).toBe(true);
    expect(hit({ name: { $ne: null } }, rec)).toBe(true);
  });
  test('$in and $nin', () => {
    expect(hit({ name: { $in: ['x', 'alpha'] } }, rec)).toBe(true);
    expect(hit({ name: { $in: ['x', 'y'] } }, rec)).toBe(false);
    expect(hit({ name: { $nin: ['x', 'alpha'] } }, rec)).toBe(false);
    expect(hit({ name: { $nin: ['x'] } }, rec)).toBe(true);
    expect(hit({ name: { $in: [null] } }, { ...rec, name: undefined })).toBe(true);
  });
  test('ranges compare numbers with numbers and strings with strings only', () => {
    expect(hit({ createdAt: { $gt: 99 } }, rec)).toBe(true);
    expect(hit({ createdAt: { $gt: 100 } }, rec)).toBe(false);
    expect(hit({ createdAt: { $gte: 100 } }, rec)).toBe(true);
    expect(hit({ createdAt: { $lt: 100 } }, rec)).toBe(false);
    expect(hit({ createdAt: { $lte: 100 } }, rec)).toBe(true);
    expect(hit({ createdAt: { $gt: 50, $lt: 150 } }, rec)).toBe(true);
    expect(hit({ name: { $gt: 'aa' } }, rec)).toBe(true);
    expect(hit({ name: { $lt: 'aa' } }, rec)).toBe(false);
    expect(hit({ 'attr.n': { $gt: '1' } }, { ...rec, attributes: { n: 5 } })).toBe(false);
    expect(hit({ lm: { $gt: 0 } }, rec)).toBe(false);
  });
  test('$exists: present and not null', () => {
    expect(hit({ name: { $exists: true } }, rec)).toBe(true);
    expect(hit({ lm: { $exists: true } }, rec)).toBe(false);
    expect(hit({ lm: { $exists: false } }, rec)).toBe(true);
    expect(hit({ 'attr.x': { $exists: false } }, rec)).toBe(true);
  });
  test('times given as Date objects compare as milliseconds', () => {
    expect(hit({ createdAt: { $gte: date(ISO) } }, { ...rec, createdAt: MS })).toBe(true);
    expect(hit({ createdAt: { $gt: date(ISO) } }, { ...rec, createdAt: MS })).toBe(false);
  });
});

describe('matches: attributes', () => {
  const rec = { attributes: { type: 'group', level: 3, tags: ['a', 'b'], meta: { color: 'red', deep: { x: 1 } } } };
  test('paths reach into nested objects', () => {
    expect(hit({ 'attr.type': 'group' }, rec)).toBe(true);
    expect(hit({ 'attributes.meta.color': 'red' }, rec)).toBe(true);
    expect(hit({ 'attr.meta.deep.x': 1 }, rec)).toBe(true);
    expect(hit({ 'attr.meta.color.x': 'r' }, rec)).toBe(false);
    expect(hit({ 'attr.missing.x': { $exists: false } }, rec)).toBe(true);
  });
  test('equality is deep and, on an array, means "contains"', () => {
    expect(hit({ 'attr.meta': { color: 'red', deep: { x: 1 } } }, rec)).toBe(true);
    expect(hit({ 'attr.meta': { deep: { x: 1 }, color: 'red' } }, rec)).toBe(true);
    expect(hit({ 'attr.meta': { color: 'red' } }, rec)).toBe(false);
    expect(hit({ 'attr.tags': 'a' }, rec)).toBe(true);
    expect(hit({ 'attr.tags': 'z' }, rec)).toBe(false);
    expect(hit({ 'attr.tags': ['a', 'b'] }, rec)).toBe(true);
    expect(hit({ 'attr.tags': ['b', 'a'] }, rec)).toBe(false);
    expect(hit({ 'attr.tags': { $ne: 'a' } }, rec)).toBe(false);
    expect(hit({ 'attr.level': '3' }, rec)).toBe(false);
    expect(hit({ 'attr.missing': null }, rec)).toBe(true);
  });
  test('$all and $size on array attributes', () => {
    expect(hit({ 'attr.tags': { $all: ['b', 'a'] } }, rec)).toBe(true);
    expect(hit({ 'attr.tags': { $all: ['a', 'z'] } }, rec)).toBe(false);
    expect(hit({ 'attr.type': { $all: ['group'] } }, rec)).toBe(false);
    expect(hit({ 'attr.tags': { $size: 2 } }, rec)).toBe(true);
    expect(hit({ 'attr.tags': { $size: 1 } }, rec)).toBe(false);
    expect(hit({ 'attr.type': { $size: 5 } }, rec)).toBe(false);
  });
  test('$in over attribute values', () => {
    expect(hit({ 'attr.level': { $in: [1, 3] } }, rec)).toBe(true);
    expect(hit({ 'attr.level': { $nin: [1, 3] } }, rec)).toBe(false);
    expect(hit({ 'attr.tags': { $in: ['z', 'b'] } }, rec)).toBe(true);
  });
});

describe('matches: members', () => {
  const rec = { cid: 'g1', transient: false };
  const members = ['alice', 'bob', 'carol'];
  test('$eq with one client: is a member', () => {
    expect(hit({ m: 'bob' }, rec, members)).toBe(true);
    expect(hit({ m: 'eve' }, rec, members)).toBe(false);
  });
  test('$eq with a list: exactly that member set', () => {
    expect(hit({ m: ['carol', 'alice', 'bob'] }, rec, members)).toBe(true);
    expect(hit({ m: ['alice', 'bob'] }, rec, members)).toBe(false);
    expect(hit({ m: ['alice', 'bob', 'bob', 'carol'] }, rec, members)).toBe(true);
    expect(hit({ m: ['alice', 'bob', 'eve'] }, rec, members)).toBe(false);
  });
  test('$ne, $in, $nin, $all', () => {
    expect(hit({ m: { $ne: 'eve' } }, rec, members)).toBe(true);
    expect(hit({ m: { $ne: 'bob' } }, rec, members)).toBe(false);
    expect(hit({ m: { $ne: ['alice', 'bob', 'carol'] } }, rec, members)).toBe(false);
    expect(hit({ m: { $ne: ['alice'] } }, rec, members)).toBe(true);
    expect(hit({ m: { $in: ['eve', 'bob'] } }, rec, members)).toBe(true);
    expect(hit({ m: { $in: ['eve'] } }, rec, members)).toBe(false);
    expect(hit({ m: { $nin: ['eve'] } }, rec, members)).toBe(true);
    expect(hit({ m: { $nin: ['eve', 'carol'] } }, rec, members)).toBe(false);
    expect(hit({ m: { $all: ['alice', 'carol'] } }, rec, members)).toBe(true);
    expect(hit({ m: { $all: ['alice', 'eve'] } }, rec, members)).toBe(false);
  });
  test('$size counts members; chat rooms have none to count', () => {
    expect(hit({ m: { $size: 3 } }, rec, members)).toBe(true);
    expect(hit({ m: { $size: 2 } }, rec, members)).toBe(false);
    expect(hit({ m: { $size: 0 } }, { ...rec, transient: true }, [], true)).toBe(false);
  });
  test('$exists: normal conversations have members, chat rooms do not', () => {
    expect(hit({ m: { $exists: true } }, rec, members)).toBe(true);
    expect(hit({ m: { $exists: false } }, rec, members)).toBe(false);
    expect(hit({ m: { $exists: false } }, rec, [], true)).toBe(true);
    expect(hit({ m: { $exists: true } }, rec, [], true)).toBe(false);
  });
});

describe('matches: AND within a branch, OR across branches', () => {
  const rec = { name: 'alpha', creator: 'bob', attributes: { type: 'group' } };
  test('every condition of a branch must hold', () => {
    expect(hit({ name: 'alpha', c: 'bob' }, rec)).toBe(true);
    expect(hit({ name: 'alpha', c: 'eve' }, rec)).toBe(false);
  });
  test('any branch of $or, each with the top-level conditions', () => {
    expect(hit({ $or: [{ name: 'x' }, { c: 'bob' }] }, rec)).toBe(true);
    expect(hit({ $or: [{ name: 'x' }, { c: 'eve' }] }, rec)).toBe(false);
    expect(hit({ 'attr.type': 'group', $or: [{ name: 'x' }, { c: 'bob' }] }, rec)).toBe(true);
    expect(hit({ 'attr.type': 'dm', $or: [{ name: 'alpha' }, { c: 'bob' }] }, rec)).toBe(false);
  });
});

describe('deepEqual', () => {
  test('scalars, arrays in order, objects in any key order', () => {
    expect(deepEqual(1, 1)).toBe(true);
    expect(deepEqual(1, '1')).toBe(false);
    expect(deepEqual(null, null)).toBe(true);
    expect(deepEqual(null, {})).toBe(false);
    expect(deepEqual({}, null)).toBe(false);
    expect(deepEqual([1, [2]], [1, [2]])).toBe(true);
    expect(deepEqual([1, 2], [2, 1])).toBe(false);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
    expect(deepEqual({ a: 1, b: { c: 2 } }, { b: { c: 2 }, a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
  });
});

describe('parseSort and comparator', () => {
  test('the default is newest message first', () => {
    expect(parseSort(undefined)).toEqual([{ field: 'lastMessageAt', desc: true }]);
    expect(parseSort('')).toEqual([{ field: 'lastMessageAt', desc: true }]);
    expect(parseSort('   ')).toEqual([{ field: 'lastMessageAt', desc: true }]);
  });
  test('comma-separated keys, "-" for descending, aliases and attributes', () => {
    expect(parseSort('name, -lm ,attr.rank')).toEqual([
      { field: 'name', desc: false },
      { field: 'lastMessageAt', desc: true },
      { field: 'attributes.rank', desc: false },
    ]);
  });
  test('members cannot be sorted by; unknown keys are 4114', () => {
    expect(outcome(() => parseSort('m'))).toBe('4114: where: cannot sort by members');
    expect(outcome(() => parseSort('-members'))).toMatch(/cannot sort by members/);
    expect(outcome(() => parseSort('name,bogus'))).toMatch(/^4114: where: unknown key "bogus"/);
    expect(outcome(() => parseSort('name,'))).toMatch(/^4114: where: unknown key ""/);
  });

  const sorted = (sort: string, rows: Record<string, unknown>[]) => [...rows].sort(comparator(parseSort(sort))).map((r) => r.cid);

  test('ascending and descending, missing values last either way', () => {
    const rows = [
      { cid: 'a', lastMessageAt: 2 },
      { cid: 'b', lastMessageAt: null },
      { cid: 'c', lastMessageAt: 3 },
      { cid: 'd' },
      { cid: 'e', lastMessageAt: 1 },
    ];
    expect(sorted('lastMessageAt', rows)).toEqual(['e', 'a', 'c', 'b', 'd']);
    expect(sorted('-lastMessageAt', rows)).toEqual(['c', 'a', 'e', 'b', 'd']);
  });
  test('ties fall to the next key, then to cid ascending (stable pages)', () => {
    const rows = [
      { cid: 'z', name: 'x', createdAt: 1 },
      { cid: 'y', name: 'x', createdAt: 2 },
      { cid: 'x', name: 'x', createdAt: 2 },
      { cid: 'w', name: 'a', createdAt: 9 },
    ];
    expect(sorted('name,-createdAt', rows)).toEqual(['w', 'x', 'y', 'z']);
    expect(sorted('-name', rows)).toEqual(['x', 'y', 'z', 'w']);
  });
  test('nested attributes; values of different types compare as strings', () => {
    const rows = [
      { cid: 'a', attributes: { rank: 10 } },
      { cid: 'b', attributes: { rank: '9' } },
      { cid: 'c', attributes: { rank: 2 } },
      { cid: 'd', attributes: {} },
    ];
    // 2 < 10 as numbers; '10' < '9' and '2' < '9' as strings.
    expect(sorted('attr.rank', rows)).toEqual(['c', 'a', 'b', 'd']);
  });
});

describe('planBranch: the access path', () => {
  const plan = (where: Record<string, unknown>) => parseWhere(where).map(planBranch);

  test('cid by key, for $eq and $in', () => {
    expect(plan({ cid: 'c1' })).toEqual([{ kind: 'cids', cids: ['c1'] }]);
    expect(plan({ objectId: { $in: ['c1', 'c2'] } })).toEqual([{ kind: 'cids', cids: ['c1', 'c2'] }]);
  });
  test('members through the byClient index: $eq and $all need every client, $in any', () => {
    expect(plan({ m: 'alice' })).toEqual([{ kind: 'members', clientIds: ['alice'], all: true }]);
    expect(plan({ m: ['alice', 'bob'] })).toEqual([{ kind: 'members', clientIds: ['alice', 'bob'], all: true }]);
    expect(plan({ m: { $all: ['alice', 'bob'] } })).toEqual([{ kind: 'members', clientIds: ['alice', 'bob'], all: true }]);
    expect(plan({ m: { $in: ['alice', 'bob'] } })).toEqual([{ kind: 'members', clientIds: ['alice', 'bob'], all: false }]);
  });
  test('name and creator through their indexes', () => {
    expect(plan({ name: 'g' })).toEqual([{ kind: 'name', values: ['g'] }]);
    expect(plan({ name: { $in: ['g', 'h'] } })).toEqual([{ kind: 'name', values: ['g', 'h'] }]);
    expect(plan({ c: 'bob' })).toEqual([{ kind: 'creator', values: ['bob'] }]);
    expect(plan({ creator: { $in: ['bob', 'eve'] } })).toEqual([{ kind: 'creator', values: ['bob', 'eve'] }]);
  });
  test('cheapest first, whatever the order of the keys', () => {
    expect(plan({ c: 'bob', name: 'g', m: 'alice', cid: 'c1' })).toEqual([{ kind: 'cids', cids: ['c1'] }]);
    expect(plan({ c: 'bob', name: 'g', m: 'alice' })).toEqual([{ kind: 'members', clientIds: ['alice'], all: true }]);
    expect(plan({ c: 'bob', name: 'g' })).toEqual([{ kind: 'name', values: ['g'] }]);
    expect(plan({ 'attr.type': 1, c: 'bob' })).toEqual([{ kind: 'creator', values: ['bob'] }]);
  });
  test('the first usable condition on a field is the one planned', () => {
    expect(plan({ m: { $nin: ['eve'], $in: ['bob'], $all: ['alice'] } })).toEqual([{ kind: 'members', clientIds: ['bob'], all: false }]);
  });
  test('a name of null has no index entry: the next path, else a scan', () => {
    expect(plan({ name: null })).toEqual([{ kind: 'scan' }]);
    expect(plan({ name: null, c: 'bob' })).toEqual([{ kind: 'creator', values: ['bob'] }]);
    expect(plan({ name: { $in: [null, 'g'] } })).toEqual([{ kind: 'name', values: ['g'] }]);
  });
  test('negations, ranges, attributes, times and transient are scans', () => {
    for (const where of [
      {},
      { cid: { $ne: 'c1' } },
      { cid: { $nin: ['c1'] } },
      { cid: { $gt: 'a' } },
      { m: { $nin: ['alice'] } },
      { m: { $ne: 'alice' } },
      { m: { $size: 2 } },
      { m: { $exists: true } },
      { name: { $exists: true } },
      { name: { $gt: 'a' } },
      { c: { $ne: 'bob' } },
      { 'attr.type': 'group' },
      { createdAt: { $gt: 1 } },
      { tr: true },
    ])
      expect(plan(where)).toEqual([{ kind: 'scan' }]);
  });
  test('each $or branch is planned on its own, with the shared conditions', () => {
    expect(plan({ $or: [{ cid: 'c1' }, { m: 'alice' }, { 'attr.x': 1 }] })).toEqual([
      { kind: 'cids', cids: ['c1'] },
      { kind: 'members', clientIds: ['alice'], all: true },
      { kind: 'scan' },
    ]);
    expect(plan({ c: 'bob', $or: [{ name: 'g' }, { tr: true }] })).toEqual([
      { kind: 'name', values: ['g'] },
      { kind: 'creator', values: ['bob'] },
    ]);
  });
});

describe('memberCandidates', () => {
  test('all: the conversations every client is in, in the first list order', () => {
    expect(
      memberCandidates(
        [
          ['c1', 'c2', 'c3'],
          ['c3', 'c1'],
          ['c1', 'c3', 'c9'],
        ],
        true,
      ),
    ).toEqual(['c1', 'c3']);
    expect(memberCandidates([['c1'], ['c2']], true)).toEqual([]);
    expect(memberCandidates([['c1', 'c2']], true)).toEqual(['c1', 'c2']);
  });
  test('any: the union, without repeats', () => {
    expect(
      memberCandidates(
        [
          ['c1', 'c2'],
          ['c2', 'c3'],
        ],
        false,
      ),
    ).toEqual(['c1', 'c2', 'c3']);
  });
  test('no lists, no conversations', () => {
    expect(memberCandidates([], true)).toEqual([]);
    expect(memberCandidates([], false)).toEqual([]);
  });
});

describe('membershipTests', () => {
  const convs = [
    { cid: 'g1', transient: false },
    { cid: 'r1', transient: true },
    { cid: 'g2', transient: false },
  ];
  test('every client a members condition names, against every normal conversation', () => {
    expect(membershipTests(parseWhere({ m: { $all: ['a', 'b'] } }), convs)).toEqual([
      { cid: 'g1', clientId: 'a' },
      { cid: 'g1', clientId: 'b' },
      { cid: 'g2', clientId: 'a' },
      { cid: 'g2', clientId: 'b' },
    ]);
  });
  test('clients from every branch and operator, once each', () => {
    const where = parseWhere({ m: { $nin: ['x'] }, $or: [{ m: 'a' }, { m: { $ne: ['a', 'b'] } }] });
    const pairs = membershipTests(where, [{ cid: 'g1', transient: false }]);
    expect(pairs.map((p) => p.clientId).sort()).toEqual(['a', 'b', 'x']);
  });
  test('none when no client is named ($size and $exists use the counter) or no conversation has members', () => {
    expect(membershipTests(parseWhere({ name: 'g' }), convs)).toEqual([]);
    expect(membershipTests(parseWhere({ m: { $size: 2 }, $or: [{ m: { $exists: true } }] }), convs)).toEqual([]);
    expect(membershipTests(parseWhere({ m: 'a' }), [{ cid: 'r1', transient: true }])).toEqual([]);
    expect(membershipTests(parseWhere({ m: 'a' }), [])).toEqual([]);
  });
  test(`at most FIND_MAX_MEMBER_TESTS (${FIND_MAX_MEMBER_TESTS}) pairs, else 4310`, () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ cid: `c${i}`, transient: false }));
    const fiveClients = parseWhere({ m: { $all: ['a', 'b', 'c', 'd', 'e'] } });
    expect(membershipTests(fiveClients, many(FIND_MAX_MEMBER_TESTS / 5))).toHaveLength(FIND_MAX_MEMBER_TESTS);
    expect(outcome(() => membershipTests(fiveClients, many(FIND_MAX_MEMBER_TESTS / 5 + 1)))).toBe(
      '4310: query too expensive: too many membership tests; constrain it by cid, members, name or creator',
    );
  });
});

describe('helpers', () => {
  test('stringValues keeps the strings of a value or list', () => {
    expect(stringValues('a')).toEqual(['a']);
    expect(stringValues(['a', null, 'b', 3])).toEqual(['a', 'b']);
    expect(stringValues(null)).toEqual([]);
  });
  test('tooExpensive is 4310 and says how to constrain the query', () => {
    const e = tooExpensive('why');
    expect(e.toBody()).toEqual({
      code: 4310,
      name: 'CONVERSATION_QUERY_FAILED',
      message: 'query too expensive: why; constrain it by cid, members, name or creator',
    });
  });
});

describe('injection-looking input stays data', () => {
  test('expression syntax in values is a literal value, in the plan too', () => {
    const evil = "x' OR attribute_exists(cid) OR name = '";
    expect(parseWhere({ name: evil })).toEqual([[{ field: 'name', op: '$eq', value: evil }]]);
    expect(planBranch(parseWhere({ name: evil })[0]!)).toEqual({ kind: 'name', values: [evil] });
    expect(planBranch(parseWhere({ c: ':v OR #k' })[0]!)).toEqual({ kind: 'creator', values: [':v OR #k'] });
    expect(hit({ name: evil }, { name: 'x' })).toBe(false);
    expect(hit({ name: evil }, { name: evil })).toBe(true);
  });
  test('expression syntax in keys is an unknown key', () => {
    refused({ 'name = :v OR #k': 'x' }, 'unknown key');
    refused({ '#k': 'x' }, 'unknown key "#k"');
    refused({ ':v': 'x' }, 'unknown key ":v"');
    refused({ 'cid)': 'x' }, 'unknown key');
  });
  test('odd attribute paths are looked up as literal keys, never evaluated', () => {
    const key = 'a) OR (b';
    expect(fieldOf(`attr.${key}`)).toBe(`attributes.${key}`);
    expect(hit({ [`attr.${key}`]: 1 }, { attributes: { [key]: 1 } })).toBe(true);
    expect(hit({ [`attr.${key}`]: 1 }, { attributes: { a: 1, b: 1 } })).toBe(false);
  });
  test('inherited properties are not attributes', () => {
    expect(hit({ 'attr.constructor': { $exists: true } }, { attributes: {} })).toBe(false);
    expect(hit({ 'attr.__proto__': { $exists: true } }, { attributes: {} })).toBe(false);
    expect(hit({ 'attr.toString': { $exists: true } }, { attributes: {} })).toBe(false);
  });
  test('operator objects inside values are compared, not interpreted', () => {
    expect(parseWhere({ 'attr.x': { $eq: { $gt: 1 } } })).toEqual([[{ field: 'attributes.x', op: '$eq', value: { $gt: 1 } }]]);
    expect(hit({ 'attr.x': { $eq: { $gt: 1 } } }, { attributes: { x: 5 } })).toBe(false);
    expect(hit({ 'attr.x': { $eq: { $gt: 1 } } }, { attributes: { x: { $gt: 1 } } })).toBe(true);
    expect(hit({ 'attr.x': { $in: [{ $ne: null }] } }, { attributes: { x: 5 } })).toBe(false);
    refused({ cid: { $in: ['a', { $ne: null }] } }, 'cid needs a string');
    refused({ name: { $ne: { $exists: true } } }, 'name needs a string');
  });
  test('client ids are checked, so no member value carries syntax', () => {
    refused({ m: "a' OR '1'='1" }, 'members values must be client ids');
    refused({ m: { $all: ['a', 'b;c'] } }, 'members values must be client ids');
  });
});

describe('equality with null', () => {
  test('matches a field stored as null and a missing one, nothing else (LeanCloud semantics)', () => {
    expect(hit({ lm: null }, { lastMessageAt: null })).toBe(true);
    expect(hit({ lm: null }, {})).toBe(true);
    expect(hit({ lm: null }, { lastMessageAt: 5 })).toBe(false);
    expect(hit({ 'attr.x': null }, { attributes: { x: null } })).toBe(true);
    expect(hit({ 'attr.x': null }, { attributes: { x: 0 } })).toBe(false);
  });
});
