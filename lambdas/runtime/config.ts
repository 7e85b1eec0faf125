/** Runtime configuration (docs/protocol.md §14): same variable names locally and in Lambda. */
import type { Config } from '../domain/context';
import { TABLE_NAMES, tableEnvVar, type TableName } from '../../lib/tables';

type Env = Record<string, string | undefined>;

function intFrom(value: string | undefined, fallback: number): number {
  const n = value === undefined ? NaN : Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** Like intFrom, but 0 is a valid value (it disables the limit). */
function intOrZero(value: string | undefined, fallback: number): number {
  return value === '0' ? 0 : intFrom(value, fallback);
}

/** Physical table names: from IM_TABLE_<NAME> (set by the stack), else `${prefix}${name}`. */
export function tableNamesFrom(env: Env, prefix = 'im-'): Record<TableName, string> {
  const out = {} as Record<TableName, string>;
  for (const t of TABLE_NAMES) out[t] = env[tableEnvVar(t)] ?? `${prefix}${t}`;
  return out;
}

export function configFromEnv(env: Env = process.env): Config {
  return {
    appId: env.IM_APP_ID || 'local-app',
    masterKey: env.IM_MASTER_KEY || undefined,
    previousMasterKey: env.IM_MASTER_KEY_PREVIOUS || undefined,
    signatureRequired: env.IM_SIGNATURE_REQUIRED === 'true',
    maxMessageBytes: intFrom(env.IM_MAX_MESSAGE_BYTES, 5120),
    pushAlert: env.IM_PUSH_ALERT || '您有新的消息',
    kickPolicy: env.IM_KICK_POLICY === 'member' ? 'member' : 'creator',
    findMaxCandidates: intFrom(env.IM_FIND_MAX_CANDIDATES, 1000),
    rateLimits: {
      send: intOrZero(env.IM_RATE_SEND_PER_10S, 50),
      other: intOrZero(env.IM_RATE_OTHER_PER_10S, 100),
      open: intOrZero(env.IM_RATE_OPEN_PER_10S, 30),
    },
    pushPlatforms: {
      ...(env.IM_APNS_PLATFORM_ARN ? { APNS: env.IM_APNS_PLATFORM_ARN } : {}),
      ...(env.IM_APNS_SANDBOX_PLATFORM_ARN ? { APNS_SANDBOX: env.IM_APNS_SANDBOX_PLATFORM_ARN } : {}),
    },
    tables: tableNamesFrom(env),
  };
}
