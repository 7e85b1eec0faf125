/**
 * Everything a handler needs from the outside world. Lambda builds it once per container
 * from the environment; the local runtime builds it from its own endpoints. Both hand the
 * core real AWS SDK v3 clients.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createDb } from '../stores/dynamo';
import { ManagementApiGateway, type ConnectionGateway } from '../gateways/connection-gateway';
import { SnsPushEndpoints } from '../gateways/push-endpoints';
import { workerEnvVar } from '../../lib/routes';
import type { Config, Deps } from '../domain/context';
import { configFromEnv } from './config';
import { leanCloudEncoder } from '../leancloud';
import { encodeNativeEvent } from '../protocol/events';
import { createLogger, parseLogLevel } from './log';

/** Master keys from the environment (local runs and tests). */
export function envMasterKeys(config: Config): () => Promise<string[]> {
  const keys = [config.masterKey, config.previousMasterKey].filter((k): k is string => !!k);
  return async () => keys;
}

/**
 * A Secrets Manager secret holding either the key itself or `{"current": "…", "previous": "…"}`
 * (during a rotation). Read on first use and cached for the container's life; a read that fails
 * is retried on the next request rather than cached.
 */
export function secretMasterKeys(secretId: string, fetch: (id: string) => Promise<string | undefined>): () => Promise<string[]> {
  let cachedKeys: Promise<string[]> | undefined;
  return () => {
    cachedKeys ??= fetch(secretId)
      .then((value) => {
        if (!value) return [];
        try {
          const parsed = JSON.parse(value) as { current?: unknown; previous?: unknown };
          if (typeof parsed === 'object' && parsed !== null && typeof parsed.current === 'string') {
            return [parsed.current, parsed.previous].filter((k): k is string => typeof k === 'string' && k.length > 0);
          }
        } catch {
          // not JSON: the whole string is the key
        }
        return [value];
      })
      .catch((err: unknown) => {
        cachedKeys = undefined;
        throw err;
      });
    return cachedKeys;
  };
}

let cached: Deps | undefined;

/** Lambda: built on first use and reused by every invocation of the container. */
export function depsFromEnv(): Deps {
  if (cached) return cached;
  const env = process.env;
  const gateways = new Map<string, ConnectionGateway>();
  const config = configFromEnv(env);
  let lambda: LambdaClient | undefined;
  const secretArn = env.IM_MASTER_KEY_SECRET_ARN;
  cached = {
    config,
    encoders: { native: encodeNativeEvent, leancloud: leanCloudEncoder },
    masterKeys: secretArn
      ? secretMasterKeys(
          secretArn,
          async (id) => (await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: id }))).SecretString,
        )
      : envMasterKeys(config),
    push: Object.keys(config.pushPlatforms).length > 0 ? new SnsPushEndpoints() : undefined,
    async invokeWorker(name, payload) {
      lambda ??= new LambdaClient({});
      const fn = env[workerEnvVar(name)];
      if (!fn) throw new Error(`worker ${name} is not configured (${workerEnvVar(name)})`);
      await lambda.send(new InvokeCommand({ FunctionName: fn, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }));
    },
    db: createDb(),
    log: createLogger(parseLogLevel(env.IM_LOG_LEVEL)),
    now: () => Date.now(),
    gatewayFor({ domainName, stage }) {
      // A custom domain cannot serve @connections, so the stack may pin the endpoint.
      const endpoint = env.IM_MANAGEMENT_ENDPOINT || `https://${domainName}/${stage}`;
      let gw = gateways.get(endpoint);
      if (!gw) {
        gw = new ManagementApiGateway(endpoint);
        gateways.set(endpoint, gw);
      }
      return gw;
    },
  };
  return cached;
}
