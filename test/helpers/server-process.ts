/**
 * `npm start`'s process (bin/local.ts) as a child process on an on-disk data directory, for
 * tests that kill and restart the server on the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  /** The end of what the process wrote to stdout and stderr, for failure messages. */
  output(): string;
}

/** Enough of the output to see a stack trace, bounded because a long run logs a lot of warnings. */
const OUTPUT_TAIL = 20_000;

const running = new Set<ChildProcess>();

const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;

/**
 * Kills every server still running and waits until they are gone, so that their data
 * directories can be removed: for afterAll, so that a failing test leaves no process behind.
 */
export async function killAllServers(): Promise<void> {
  const procs = [...running];
  for (const p of procs) if (alive(p)) p.kill('SIGKILL');
  await Promise.all(procs.map(exited));
}

// Jest normally reaches afterAll; this covers a worker that exits without it.
process.once('exit', () => {
  for (const p of running) if (alive(p)) p.kill('SIGKILL');
});

/** Resolves with the exit code (null when killed by a signal). */
export function exited(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (!alive(p)) resolve(p.exitCode);
    else p.once('exit', (code) => resolve(code));
  });
}

/**
 * Starts bin/local.ts on `dataDir` on a free port and resolves once it is ready. Rate limits are
 * off and logging is at warn unless `env` says otherwise.
 */
export function startServer(dataDir: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<ServerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', 'local.ts')], {
    env: {
      ...process.env,
      PORT: '0',
      IM_DATA_DIR: dataDir,
      IM_LOG_LEVEL: 'warn',
      IM_RATE_SEND_PER_10S: '0',
      IM_RATE_OTHER_PER_10S: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  let out = '';
  // Both pipes are read for the whole life of the process: a full pipe would block the server.
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 2 * OUTPUT_TAIL) out = out.slice(-OUTPUT_TAIL);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start within ${timeoutMs} ms: ${out}`));
    }, timeoutMs);
    const onReady = () => {
      const m = /ready: (ws:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.stdout!.off('data', onReady);
      resolve({ proc, url: m[1]!, output: () => out.slice(-OUTPUT_TAIL) });
    };
    proc.stdout!.on('data', onReady);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code ?? signal}: ${out}`));
    });
  });
}

/** SIGKILL, as a crash: no shutdown code runs. Resolves once the process is gone. */
export async function crash(server: ServerProcess): Promise<void> {
  server.proc.kill('SIGKILL');
  await exited(server.proc);
}
