/** Posting to live WebSocket connections through the API Gateway Management API. */
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { Lazy } from './lazy';

type ManagementSdk = typeof import('@aws-sdk/client-apigatewaymanagementapi');

export type PostOutcome = 'ok' | 'gone';

/**
 * Several LeanCloud clients can share one socket; each gets a session id of its own,
 * `<socket's connection id>#<clientId>` (`#` never occurs in API Gateway's base64 ids).
 * Frames for any of them go through the socket.
 */
export const PEER_SESSION_SEPARATOR = '#';
export const socketOf = (connectionId: string): string => connectionId.split(PEER_SESSION_SEPARATOR, 1)[0]!;

export interface ConnectionGateway {
  /** Sends one frame; 'gone' when the connection no longer exists (HTTP 410). */
  post(connectionId: string, data: string): Promise<PostOutcome>;
  /** Closes the connection (the whole socket) server-side; a connection already gone is not an error. */
  disconnect(connectionId: string): Promise<void>;
}

/** API Gateway throttles @connections account-wide: 429 LimitExceededException. */
export function isThrottled(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return err.name === 'LimitExceededException' || err.name === 'TooManyRequestsException' || status === 429;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Attempts after the SDK's own retries gave up on throttling; full-jitter exponential backoff. */
export const THROTTLE_RETRIES = 5;
const THROTTLE_BASE_MS = 50;
const THROTTLE_CAP_MS = 2000;

/** SDK v3 errors: match by name, and by status since a bare 410 has no GoneException name. */
export function isGone(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return err.name === 'GoneException' || status === 410;
}

type Credentials = { accessKeyId: string; secretAccessKey: string };

/**
 * The SDK is loaded and the client built on the first post or disconnect: every request gets a
 * gateway, but many (`$connect`, most replies, which ride on the route response) never use it.
 */
export class ManagementApiGateway implements ConnectionGateway {
  private readonly sdk: Lazy<{ api: ManagementSdk; client: ApiGatewayManagementApiClient }>;

  constructor(endpoint: string, opts: { region?: string; credentials?: Credentials } = {}) {
    const region = opts.region ?? process.env.AWS_REGION ?? 'us-east-1';
    this.sdk = new Lazy(() => {
      const api = require('@aws-sdk/client-apigatewaymanagementapi') as ManagementSdk;
      return { api, client: new api.ApiGatewayManagementApiClient({ endpoint, region, credentials: opts.credentials }) };
    });
  }

  async post(connectionId: string, data: string): Promise<PostOutcome> {
    const { api, client } = this.sdk.get();
    for (let attempt = 0; ; attempt++) {
      try {
        await client.send(new api.PostToConnectionCommand({ ConnectionId: socketOf(connectionId), Data: Buffer.from(data) }));
        return 'ok';
      } catch (err) {
        if (isGone(err)) return 'gone';
        if (!isThrottled(err) || attempt >= THROTTLE_RETRIES) throw err;
        await sleep(Math.random() * Math.min(THROTTLE_CAP_MS, THROTTLE_BASE_MS * 2 ** attempt));
      }
    }
  }

  async disconnect(connectionId: string): Promise<void> {
    const { api, client } = this.sdk.get();
    try {
      await client.send(new api.DeleteConnectionCommand({ ConnectionId: socketOf(connectionId) }));
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }
}
