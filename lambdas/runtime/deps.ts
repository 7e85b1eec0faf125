/**
 * Everything a handler needs from the outside world. Lambda builds it once per container
 * from the environment; the local runtime (local/stack.ts) builds it from its own endpoints.
 * Both hand the core the same gateways over real AWS SDK v3 clients, each made on first use.
 */
import { createDb } from '../stores/dynamo';
import { ManagementApiGateway, type ConnectionGateway } from '../gateways/connection-gateway';
import { envMasterKeys, secretMasterKeys, secretsManagerReader } from '../gateways/master-keys';
import { SnsPushEndpoints } from '../gateways/push-endpoints';
import { lambdaWorkers } from '../gateways/workers';
import type { Deps } from '../domain/context';
import { configFromEnv } from './config';
import { encodeNativeEvent } from '../protocol/events';
// The encoder alone, not the adapter's index: every route posts, only `$default` decodes frames.
import { leanCloudEncoder } from '../leancloud/encoder';
import { createLogger, parseLogLevel } from './log';

let cached: Deps | undefined;

/** Lambda: built on first use and reused by every invocation of the container. */
export function depsFromEnv(): Deps {
  if (cached) return cached;
  const env = process.env;
  const gateways = new Map<string, ConnectionGateway>();
  const config = configFromEnv(env);
  const secretArn = env.IM_MASTER_KEY_SECRET_ARN;
  cached = {
    config,
    encoders: { native: encodeNativeEvent, leancloud: leanCloudEncoder },
    masterKeys: secretArn ? secretMasterKeys(secretArn, secretsManagerReader()) : envMasterKeys(config),
    push: Object.keys(config.pushPlatforms).length > 0 ? new SnsPushEndpoints() : undefined,
    invokeWorker: lambdaWorkers(env),
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
