/**
 * The dependency rules of docs/architecture.md, read off the import graph: a change that breaks
 * one fails here instead of slowly eroding the layout.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

const root = join(__dirname, '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(root, path)).isDirectory() ? tsFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  from: string;
  /** Repository-relative path for relative imports, the package name otherwise. */
  target: string;
  typeOnly: boolean;
}

const IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
const DYNAMIC = /import\(\s*['"]([^'"]+)['"]\s*\)/g;
const REQUIRE = /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): Import[] {
  const src = readFileSync(join(root, file), 'utf8');
  const out: Import[] = [];
  const resolve = (spec: string) => (spec.startsWith('.') ? normalize(join(dirname(file), spec)).replace(/\.ts$/, '') : spec);
  for (const m of src.matchAll(IMPORT)) out.push({ from: file, target: resolve(m[2]!), typeOnly: m[1] !== undefined });
  for (const m of src.matchAll(DYNAMIC)) out.push({ from: file, target: resolve(m[1]!), typeOnly: false });
  for (const m of src.matchAll(REQUIRE)) out.push({ from: file, target: resolve(m[1]!), typeOnly: false });
  return out;
}

const lambdas = tsFiles('lambdas');
const all = [...lambdas, ...tsFiles('local'), ...tsFiles('lib'), ...tsFiles('bin'), ...tsFiles('bench')];
const edges = all.flatMap(importsOf);
const inDir = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);
const show = (bad: Import[]) => bad.map((e) => `${e.from} → ${e.target}`);

test('nothing imports a handler: the stack and the local runtime reach them by path', () => {
  expect(show(edges.filter((e) => inDir(e.target, 'lambdas/handlers')))).toEqual([]);
});

test('the domain never imports the AWS SDK, the runtime, the handlers or the LeanCloud adapter', () => {
  const bad = edges.filter(
    (e) =>
      inDir(e.from, 'lambdas/domain') &&
      (e.target.startsWith('@aws-sdk/') ||
        ['lambdas/runtime', 'lambdas/handlers', 'lambdas/leancloud', 'local'].some((d) => inDir(e.target, d))),
  );
  expect(show(bad)).toEqual([]);
});

test('the protocol is pure: it imports only itself and zod', () => {
  const bad = edges.filter((e) => inDir(e.from, 'lambdas/protocol') && !inDir(e.target, 'lambdas/protocol') && e.target !== 'zod');
  expect(show(bad)).toEqual([]);
});

test('stores import only DynamoDB, the table definitions, other stores, and types of the domain context and protocol', () => {
  const allowed = (e: Import) =>
    inDir(e.target, 'lambdas/stores') ||
    e.target.startsWith('@aws-sdk/client-dynamodb') ||
    e.target.startsWith('@aws-sdk/lib-dynamodb') ||
    e.target === 'lib/tables' ||
    e.target.startsWith('node:') ||
    // A pure helper (bounded concurrency) the domain shares.
    e.target === 'lambdas/domain/concurrency' ||
    (e.typeOnly && (e.target === 'lambdas/domain/context' || inDir(e.target, 'lambdas/protocol'))) ||
    e.target === 'lambdas/protocol/errors';
  expect(show(edges.filter((e) => inDir(e.from, 'lambdas/stores') && !allowed(e)))).toEqual([]);
});

test('the LeanCloud adapter is reached only through its index (or its encoder), from the composition roots and $default', () => {
  const outside = edges.filter((e) => inDir(e.target, 'lambdas/leancloud') && !inDir(e.from, 'lambdas/leancloud'));
  const entries = ['lambdas/leancloud', 'lambdas/leancloud/index', 'lambdas/leancloud/encoder'];
  const deep = outside.filter((e) => !entries.includes(e.target));
  const importers = [...new Set(outside.map((e) => e.from))].sort();
  expect(show(deep)).toEqual([]);
  expect(importers).toEqual(['lambdas/handlers/default.ts', 'lambdas/runtime/deps.ts', 'local/stack.ts']);
});

test('only the handlers, the LeanCloud adapter (its replies) and the local runtime import the runtime', () => {
  const bad = edges.filter(
    (e) =>
      inDir(e.target, 'lambdas/runtime') &&
      !['lambdas/runtime', 'lambdas/handlers', 'local', 'bin', 'bench'].some((d) => inDir(e.from, d)) &&
      !(inDir(e.from, 'lambdas/leancloud') && e.target === 'lambdas/runtime/route'),
  );
  expect(show(bad)).toEqual([]);
});

test('lambdas use only the two manifests from lib/, and never the local runtime', () => {
  const bad = edges.filter(
    (e) =>
      inDir(e.from, 'lambdas') &&
      ((inDir(e.target, 'lib') && !['lib/routes', 'lib/tables'].includes(e.target)) || inDir(e.target, 'local')),
  );
  expect(show(bad)).toEqual([]);
});

test('each table is named by exactly one module, its store: no second writer or reader', () => {
  const named: string[] = [];
  for (const file of lambdas) {
    const src = readFileSync(join(root, file), 'utf8');
    for (const m of src.matchAll(/\btables\.(\w+)/g)) {
      const own = `lambdas/stores/${m[1]}.ts`;
      if (file !== own) named.push(`${file} names tables.${m[1]}`);
    }
    // Any other way to reach a table name (tables[x], destructuring) only where names are built.
    if (
      !inDir(file, 'lambdas/stores') &&
      !['lambdas/runtime/config.ts', 'lambdas/domain/context.ts'].includes(file) &&
      /\btables\b(?!\.\w)/.test(src.replace(/^\s*(\/\/|\*).*$/gm, ''))
    ) {
      named.push(`${file} reaches the table names`);
    }
  }
  expect(named).toEqual([]);
});

test('DynamoDB commands are built only in stores', () => {
  const bad = edges.filter(
    (e) => inDir(e.from, 'lambdas') && !inDir(e.from, 'lambdas/stores') && /^@aws-sdk\/(lib|client)-dynamodb/.test(e.target),
  );
  expect(show(bad)).toEqual([]);
});
