/** Posting to live WebSocket connections through the API Gateway Management API. */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';

export type PostOutcome = 'ok' | 'gone';

export interface ConnectionGateway {
  /** Sends one frame; 'gone' when the connection no longer exists (HTTP 410). */
  post(connectionId: string, data: string): Promise<PostOutcome>;
  /** Closes the connection server-side; a connection already gone is not an error. */
  disconnect(connectionId: string): Promise<void>;
}

/** SDK v3 errors: match by name, and by status since a bare 410 has no GoneException name. */
export function isGone(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return err.name === 'GoneException' || status === 410;
}

type Credentials = { accessKeyId: string; secretAccessKey: string };

export class ManagementApiGateway implements ConnectionGateway {
  private readonly client: ApiGatewayManagementApiClient;

  constructor(endpoint: string, opts: { region?: string; credentials?: Credentials } = {}) {
    this.client = new ApiGatewayManagementApiClient({
      endpoint,
      region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
      credentials: opts.credentials,
    });
  }

  async post(connectionId: string, data: string): Promise<PostOutcome> {
    try {
      await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(data) }));
      return 'ok';
    } catch (err) {
      if (isGone(err)) return 'gone';
      throw err;
    }
  }

  async disconnect(connectionId: string): Promise<void> {
    try {
      await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }
}
