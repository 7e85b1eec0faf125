/** The one logger: structured JSON lines on stdout/stderr, level from IM_LOG_LEVEL. */
import type { LogFields, Logger, LogLevel } from '../domain/context';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

function serializeError(err: unknown): unknown {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return err;
}

export function createLogger(level: LogLevel = 'info', base: LogFields = {}): Logger {
  const threshold = LEVELS[level] ?? LEVELS.info;
  const write = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields) => {
    if (LEVELS[lvl] < threshold) return;
    const record: LogFields = { level: lvl, time: new Date().toISOString(), msg, ...base, ...fields };
    if (record.err !== undefined) record.err = serializeError(record.err);
    const line = JSON.stringify(record) + '\n';
    (LEVELS[lvl] >= LEVELS.warn ? process.stderr : process.stdout).write(line);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }),
  };
}

export function parseLogLevel(value: string | undefined): LogLevel {
  return value !== undefined && value in LEVELS ? (value as LogLevel) : 'info';
}
