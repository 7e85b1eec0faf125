/**
 * Everything a handler needs from the outside world. Lambda builds it once per container
 * from the environment; the local runtime builds it from its own endpoints. Both hand the
 * core real AWS SDK v3 clients.
 */
import { createDb, type Db } from '../adapters/dynamo';
import { ManagementApiGateway, type ConnectionGateway } from '../adapters/connection-gateway';
import { configFromEnv, type Config } from './config';
import { createLogger, parseLogLevel, type Logger } from './log';

export interface Deps {
  config: Config;
  db: Db;
  /** The Management API for the API (and stage) an event came through. */
  gatewayFor(endpoint: { domainName?: string; stage?: string }): ConnectionGateway;
  log: Logger;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  now(): number;
}

let cached: Deps | undefined;

/** Lambda: built on first use and reused by every invocation of the container. */
export function depsFromEnv(): Deps {
  if (cached) return cached;
  const env = process.env;
  const gateways = new Map<string, ConnectionGateway>();
  cached = {
    config: configFromEnv(env),
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
