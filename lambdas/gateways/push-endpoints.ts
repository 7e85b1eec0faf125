/**
 * Push endpoints on SNS mobile push (`PushEndpoints`): one platform endpoint per device token
 * under the platform's application. The SDK is loaded and the client built on first use, so a
 * route that never registers a device or publishes pays neither at cold start.
 */
import type { SNSClient, SNSClientConfig } from '@aws-sdk/client-sns';
import type { PublishOutcome, PushEndpoints } from '../domain/context';
import { Lazy } from './lazy';

type SnsSdk = typeof import('@aws-sdk/client-sns');

/** SNS's answer for an endpoint that can no longer be published to. */
const isGoneEndpoint = (err: unknown): err is Error =>
  err instanceof Error && (err.name === 'EndpointDisabledException' || err.name === 'NotFoundException');

export class SnsPushEndpoints implements PushEndpoints {
  private readonly sdk: Lazy<{ sns: SnsSdk; client: SNSClient }>;

  /** `clientConfig`: the SNS client's (the local runtime points it at its own SNS endpoint). */
  constructor(clientConfig: SNSClientConfig = {}) {
    this.sdk = new Lazy(() => {
      const sns = require('@aws-sdk/client-sns') as SnsSdk;
      return { sns, client: new sns.SNSClient(clientConfig) };
    });
  }

  /**
   * CreatePlatformEndpoint is idempotent only for identical attributes; a token registered before
   * with other attributes fails with InvalidParameter naming the existing endpoint, which is then
   * taken over. A disabled endpoint (APNs rejected the token once) is enabled again, since a fresh
   * registration means the app has a valid token.
   *
   * `moved`: the token belonged to another client until now. Its endpoint is then deleted and a
   * new one created instead of being taken over: the previous owner's device entries — and any
   * push worker that read them before the move — hold the old endpoint's ARN, and a publish to it
   * must fail (NotFound, after which the worker drops that entry) rather than reach the phone's
   * new owner. The local SNS always hands out a new ARN; on AWS that is not documented, which is
   * why the push worker also checks the token's owner before publishing.
   */
  async ensureEndpoint(app: string, token: string, clientId: string, opts: { moved: boolean }): Promise<string> {
    const { sns, client } = this.sdk.get();
    const create = () =>
      client.send(new sns.CreatePlatformEndpointCommand({ PlatformApplicationArn: app, Token: token, CustomUserData: clientId }));
    let arn: string;
    try {
      arn = (await create()).EndpointArn!;
    } catch (err) {
      const m =
        err instanceof Error && err.name === 'InvalidParameterException' ? /Endpoint (arn:\S+) already exists/.exec(err.message) : null;
      if (!m) throw err;
      arn = m[1]!;
    }
    const attrs = (await client.send(new sns.GetEndpointAttributesCommand({ EndpointArn: arn }))).Attributes ?? {};
    if (opts.moved && attrs.CustomUserData !== clientId) {
      // Failures propagate: the registration fails (the session works without push) rather
      // than hand the previous owner's endpoint over.
      await client.send(new sns.DeleteEndpointCommand({ EndpointArn: arn }));
      return (await create()).EndpointArn!;
    }
    if (attrs.Enabled !== 'true' || attrs.CustomUserData !== clientId || attrs.Token !== token) {
      await client.send(
        new sns.SetEndpointAttributesCommand({ EndpointArn: arn, Attributes: { Enabled: 'true', CustomUserData: clientId, Token: token } }),
      );
    }
    return arn;
  }

  async deleteEndpoint(endpoint: string): Promise<void> {
    const { sns, client } = this.sdk.get();
    await client.send(new sns.DeleteEndpointCommand({ EndpointArn: endpoint }));
  }

  async publish(endpoint: string, message: string): Promise<PublishOutcome> {
    const { sns, client } = this.sdk.get();
    try {
      await client.send(new sns.PublishCommand({ TargetArn: endpoint, MessageStructure: 'json', Message: message }));
      return { published: true };
    } catch (err) {
      if (isGoneEndpoint(err)) return { published: false, gone: err.name };
      throw err;
    }
  }

  /** Closes the client's connections, if it was ever built (the local runtime's shutdown). */
  destroy(): void {
    this.sdk.take()?.client.destroy();
  }
}
