/**
 * The `find` where-language (docs/protocol.md §10): a strict parser into a small AST, the choice of
 * access path for each branch, and the evaluation against a conversation. Pure: find.ts does the
 * reads these decide. Anything unknown is 4114; values are only ever compared in memory or bound
 * as expression values, never spliced into expression strings.
 */
import { ImError } from '../protocol/errors';
import { CLIENT_ID_PATTERN } from '../protocol/schemas';

export type Scalar = string | number | boolean | null;

export type FieldName =
  'cid' | 'name' | 'creator' | 'members' | 'transient' | 'createdAt' | 'updatedAt' | 'lastMessageAt' | `attributes.${string}`;

export type Op = '$eq' | '$ne' | '$in' | '$nin' | '$all' | '$size' | '$gt' | '$gte' | '$lt' | '$lte' | '$exists';

export interface Condition {
  field: FieldName;
  op: Op;
  value: unknown;
}

/** Conditions ANDed together. */
export type Branch = Condition[];

/** Branches ORed together (a where without `$or` is one branch). */
export type Where = Branch[];

const ALIASES: Record<string, FieldName> = {
  cid: 'cid',
  objectId: 'cid',
  name: 'name',
  creator: 'creator',
  c: 'creator',
  members: 'members',
  m: 'members',
  transient: 'transient',
  tr: 'transient',
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
  lastMessageAt: 'lastMessageAt',
  lm: 'lastMessageAt',
};

const OPS = new Set<Op>(['$eq', '$ne', '$in', '$nin', '$all', '$size', '$gt', '$gte', '$lt', '$lte', '$exists']);
const TIME_FIELDS = new Set<FieldName>(['createdAt', 'updatedAt', 'lastMessageAt']);
/** Values one `$in`/`$all`/`$nin` list may hold. */
export const FIND_MAX_LIST = 100;
const MAX_OR = 10;
const MAX_ATTRIBUTE_DEPTH = 5;

const bad = (message: string): never => {
  throw new ImError('UNPARSEABLE_RAW_MESSAGE', `where: ${message}`);
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function fieldOf(key: string): FieldName {
  const alias = ALIASES[key];
  if (alias) return alias;
  const m = /^(?:attributes|attr)\.(.+)$/.exec(key);
  if (m) {
    const parts = m[1]!.split('.');
    if (parts.length > MAX_ATTRIBUTE_DEPTH || parts.some((p) => p.length === 0 || p.startsWith('$')))
      bad(`invalid attribute path "${key}"`);
    return `attributes.${m[1]!}`;
  }
  return bad(`unknown key "${key}"`);
}

/** Dates may be given as epoch milliseconds or LeanCloud's `{"__type": "Date", "iso": "…"}`. */
function timeValue(field: string, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (isPlainObject(v) && v.__type === 'Date' && typeof v.iso === 'string') {
    const t = Date.parse(v.iso);
    if (!Number.isNaN(t)) return t;
  }
  return bad(`${field} needs a number of milliseconds or a Date object`);
}

function checkValue(field: FieldName, v: unknown): unknown {
  if (TIME_FIELDS.has(field)) return v === null ? null : timeValue(field, v);
  switch (field) {
    case 'transient':
      return typeof v === 'boolean' ? v : bad('transient needs a boolean');
    case 'members':
      return typeof v === 'string' && CLIENT_ID_PATTERN.test(v) ? v : bad('members values must be client ids');
    case 'cid':
    case 'name':
    case 'creator':
      return typeof v === 'string' ? v : v === null && field === 'name' ? null : bad(`${field} needs a string`);
    default:
      // Attributes hold any JSON value; equality is deep.
      return v;
  }
}

function checkList(field: FieldName, op: Op, v: unknown): unknown[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > FIND_MAX_LIST) bad(`${op} on ${field} needs an array of 1-${FIND_MAX_LIST} values`);
  return (v as unknown[]).map((x) => checkValue(field, x));
}

function parseCondition(field: FieldName, op: Op, v: unknown): Condition {
  switch (op) {
    case '$in':
    case '$nin':
      return { field, op, value: checkList(field, op, v) };
    case '$all':
      if (field !== 'members' && !field.startsWith('attributes.')) bad('$all applies to members or array attributes');
      return { field, op, value: checkList(field, op, v) };
    case '$size':
      if (field !== 'members' && !field.startsWith('attributes.')) bad('$size applies to members or array attributes');
      if (!Number.isInteger(v) || (v as number) < 0) bad('$size needs a non-negative integer');
      return { field, op, value: v };
    case '$exists':
      if (typeof v !== 'boolean') bad('$exists needs a boolean');
      return { field, op, value: v };
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      if (field === 'members' || field === 'transient') bad(`${op} does not apply to ${field}`);
      if (TIME_FIELDS.has(field)) return { field, op, value: timeValue(field, v) };
      if (typeof v !== 'number' && typeof v !== 'string') bad(`${op} needs a number or a string`);
      return { field, op, value: v };
    case '$eq':
    case '$ne':
      if (field === 'members' && Array.isArray(v)) return { field, op, value: checkList(field, op, v) };
      return { field, op, value: checkValue(field, v) };
  }
}

function parseBranch(where: Record<string, unknown>, allowOr: boolean): { branch: Branch; or?: Branch[] } {
  const branch: Branch = [];
  let or: Branch[] | undefined;
  for (const [key, raw] of Object.entries(where)) {
    if (key === '$or') {
      if (!allowOr) bad('$or is only allowed at the top level');
      if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_OR) bad(`$or needs an array of 1-${MAX_OR} where objects`);
      or = (raw as unknown[]).map((w) => (isPlainObject(w) ? parseBranch(w, false).branch : bad('$or entries must be objects')));
      continue;
    }
    if (key.startsWith('$')) bad(`unknown operator "${key}" at the top level`);
    const field = fieldOf(key);
    const isOperatorObject = isPlainObject(raw) && Object.keys(raw).length > 0 && Object.keys(raw).every((k) => k.startsWith('$'));
    if (isPlainObject(raw) && !isOperatorObject && Object.keys(raw).some((k) => k.startsWith('$')) && raw.__type === undefined) {
      bad(`"${key}" mixes operators and plain keys`);
    }
    if (!isOperatorObject) {
      branch.push(parseCondition(field, '$eq', raw));
      continue;
    }
    for (const [op, v] of Object.entries(raw)) {
      if (!OPS.has(op as Op)) bad(`unknown operator "${op}"`);
      branch.push(parseCondition(field, op as Op, v));
    }
  }
  return { branch, or };
}

/** Parses a where object into OR-of-AND branches (the top-level keys AND each `$or` branch). */
export function parseWhere(where: Record<string, unknown> | undefined): Where {
  if (!where) return [[]];
  const { branch, or } = parseBranch(where, true);
  return or ? or.map((b) => [...branch, ...b]) : [branch];
}

export interface SortKey {
  field: FieldName;
  desc: boolean;
}

export function parseSort(sort: string | undefined): SortKey[] {
  const text = sort === undefined || sort.trim() === '' ? '-lastMessageAt' : sort;
  return text.split(',').map((part) => {
    const p = part.trim();
    const desc = p.startsWith('-');
    const field = fieldOf(desc ? p.slice(1) : p);
    if (field === 'members') bad('cannot sort by members');
    return { field, desc };
  });
}

/** What a condition is evaluated against: the conversation plus how to test membership. */
export interface Candidate {
  record: Record<string, unknown>;
  memberCount: number;
  transient: boolean;
  hasMember(clientId: string): boolean;
}

function get(record: Record<string, unknown>, field: FieldName): unknown {
  if (!field.startsWith('attributes.')) return record[field];
  let v: unknown = record.attributes;
  for (const p of field.slice('attributes.'.length).split('.')) {
    if (!isPlainObject(v) || !Object.prototype.hasOwnProperty.call(v, p)) return undefined;
    v = v[p];
  }
  return v;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => deepEqual(x, (b as unknown[])[i]));
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Like LeanStorage: an array field equals a scalar when it contains it. */
function equals(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(actual) && !Array.isArray(expected)) return actual.some((x) => deepEqual(x, expected));
  // As in LeanCloud (and MongoDB), equality with null matches a null field and a missing one.
  if (expected === null) return actual === null || actual === undefined;
  return deepEqual(actual, expected);
}

function compare(actual: unknown, op: '$gt' | '$gte' | '$lt' | '$lte', v: unknown): boolean {
  if (typeof actual !== typeof v || (typeof actual !== 'number' && typeof actual !== 'string')) return false;
  const a = actual as number | string;
  const b = v as number | string;
  return op === '$gt' ? a > b : op === '$gte' ? a >= b : op === '$lt' ? a < b : a <= b;
}

function matchMembers(c: Candidate, op: Op, v: unknown): boolean {
  switch (op) {
    case '$eq':
      return Array.isArray(v)
        ? c.memberCount === new Set(v).size && (v as string[]).every((m) => c.hasMember(m))
        : c.hasMember(v as string);
    case '$ne':
      return Array.isArray(v) ? !matchMembers(c, '$eq', v) : !c.hasMember(v as string);
    case '$in':
      return (v as string[]).some((m) => c.hasMember(m));
    case '$nin':
      return !(v as string[]).some((m) => c.hasMember(m));
    case '$all':
      return (v as string[]).every((m) => c.hasMember(m));
    case '$size':
      return !c.transient && c.memberCount === v;
    case '$exists':
      return v === !c.transient;
    default:
      return false;
  }
}

export function matches(c: Candidate, branch: Branch): boolean {
  return branch.every(({ field, op, value }) => {
    if (field === 'members') return matchMembers(c, op, value);
    const actual = get(c.record, field);
    switch (op) {
      case '$eq':
        return equals(actual, value);
      case '$ne':
        return !equals(actual, value);
      case '$in':
        return (value as unknown[]).some((v) => equals(actual, v));
      case '$nin':
        return !(value as unknown[]).some((v) => equals(actual, v));
      case '$all':
        return Array.isArray(actual) && (value as unknown[]).every((v) => actual.some((x) => deepEqual(x, v)));
      case '$size':
        return Array.isArray(actual) && actual.length === value;
      case '$exists':
        return (actual !== undefined && actual !== null) === value;
      default:
        return compare(actual, op, value);
    }
  });
}

/** Sort comparator: missing values last, then cid for a stable order across pages. */
export function comparator(keys: SortKey[]): (a: Record<string, unknown>, b: Record<string, unknown>) => number {
  return (a, b) => {
    for (const { field, desc } of keys) {
      const x = get(a, field);
      const y = get(b, field);
      const xMissing = x === undefined || x === null;
      const yMissing = y === undefined || y === null;
      if (xMissing || yMissing) {
        if (xMissing !== yMissing) return xMissing ? 1 : -1;
        continue;
      }
      if (x === y) continue;
      const lt = typeof x === typeof y ? (x as number | string) < (y as number | string) : String(x) < String(y);
      return (lt ? -1 : 1) * (desc ? -1 : 1);
    }
    return String(a.cid) < String(b.cid) ? -1 : String(a.cid) > String(b.cid) ? 1 : 0;
  };
}

/** Most (conversation, client) membership tests one `find` may make. */
export const FIND_MAX_MEMBER_TESTS = 5000;

/** 4310: answering would read more than one `find` may. */
export const tooExpensive = (why: string): ImError =>
  new ImError('CONVERSATION_QUERY_FAILED', `query too expensive: ${why}; constrain it by cid, members, name or creator`);

/** The string values of a condition (one, or each of a list); anything else is dropped. */
export function stringValues(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

/** How one branch's candidates are read (find.ts runs it). */
export type Plan =
  | { kind: 'cids'; cids: string[] }
  | { kind: 'members'; clientIds: string[]; all: boolean }
  | { kind: 'name'; values: string[] }
  | { kind: 'creator'; values: string[] }
  | { kind: 'scan' };

/**
 * The most selective indexed condition of a branch, cheapest path first: `cid` (by key),
 * `members` (the `byClient` index; `$eq`/`$all` need every client, `$in` any), `name`, `creator`
 * (their indexes), else a bounded scan. Negations and ranges never choose a path: no index
 * serves them.
 */
export function planBranch(branch: Branch): Plan {
  const pick = (field: string, ops: string[]) => branch.find((c) => c.field === field && ops.includes(c.op));
  const cid = pick('cid', ['$eq', '$in']);
  if (cid) return { kind: 'cids', cids: stringValues(cid.value) };
  const member = pick('members', ['$eq', '$all', '$in']);
  if (member) return { kind: 'members', clientIds: stringValues(member.value), all: member.op !== '$in' };
  const name = pick('name', ['$eq', '$in']);
  // `name: null` asks for conversations without one, which the byName index does not hold.
  if (name && stringValues(name.value).length > 0) return { kind: 'name', values: stringValues(name.value) };
  const creator = pick('creator', ['$eq', '$in']);
  if (creator) return { kind: 'creator', values: stringValues(creator.value) };
  return { kind: 'scan' };
}

/**
 * The conversations of a `members` plan from each named client's list: those of every client
 * (`all`), or of any.
 */
export function memberCandidates(lists: string[][], all: boolean): string[] {
  if (!all || lists.length === 0) return [...new Set(lists.flat())];
  return lists.reduce((acc, l) => acc.filter((x) => l.includes(x)));
}

/**
 * The (conversation, client) pairs whose membership the where needs: every client a members
 * condition names (`$size` and `$exists` use the counter instead) against every candidate that
 * has members (chat rooms have none). 4310 past FIND_MAX_MEMBER_TESTS.
 */
export function membershipTests(where: Where, candidates: { cid: string; transient: boolean }[]): { cid: string; clientId: string }[] {
  const clients = new Set<string>();
  for (const b of where)
    for (const c of b)
      if (c.field === 'members' && c.op !== '$size' && c.op !== '$exists') stringValues(c.value).forEach((x) => clients.add(x));
  const normal = candidates.filter((c) => !c.transient);
  if (clients.size === 0 || normal.length === 0) return [];
  if (clients.size * normal.length > FIND_MAX_MEMBER_TESTS) throw tooExpensive('too many membership tests');
  return normal.flatMap((c) => [...clients].map((clientId) => ({ cid: c.cid, clientId })));
}
