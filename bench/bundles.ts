/**
 * `npm run bundles`: builds every route's Lambda bundle the way the stack does (esbuild, minified,
 * CJS, AWS SDK external) and reports its size and cold import time (a fresh Node process
 * requiring it, median of several). Numbers for docs/architecture.md; nothing here is asserted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROUTES, WORKERS } from '../lib/routes';

const root = join(__dirname, '..');
const RUNS = Number(process.env.BUNDLE_RUNS ?? 5);

async function main(): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'im-bundles-'));
  const json = process.argv.includes('--json');
  const rows: { handler: string; bytes: number; importMs: number; protobuf: boolean }[] = [];
  try {
    const handlers = [...new Set([...ROUTES.map((r) => r.handler), ...WORKERS.map((w) => w.handler)])];
    for (const handler of handlers) {
      const file = join(out, `${handler}.js`);
      const result = await build({
        entryPoints: [join(root, 'lambdas', 'handlers', `${handler}.ts`)],
        bundle: true,
        minify: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        mainFields: ['module', 'main'],
        external: ['@aws-sdk/*'],
        outfile: file,
        metafile: true,
        logLevel: 'silent',
      });
      const protobuf = Object.keys(result.metafile.inputs).some((i) => i.includes('node_modules/protobufjs'));
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const ms = execFileSync(
          process.execPath,
          ['-e', `const t=process.hrtime.bigint();require(${JSON.stringify(file)});console.log(Number(process.hrtime.bigint()-t)/1e6)`],
          { cwd: root, env: { ...process.env, NODE_PATH: join(root, 'node_modules') } },
        );
        times.push(Number(ms.toString().trim()));
      }
      times.sort((a, b) => a - b);
      rows.push({ handler, bytes: statSync(file).size, importMs: times[Math.floor(times.length / 2)]!, protobuf });
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log('| handler | bundle | cold import (median) | protobufjs |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.handler} | ${(r.bytes / 1024).toFixed(1)} KB | ${r.importMs.toFixed(1)} ms | ${r.protobuf ? 'yes' : 'no'} |`);
}

void main();
