/**
 * A local SNS mobile-push endpoint (awsQuery protocol) for the real `@aws-sdk/client-sns`:
 * platform endpoints with SNS's semantics (create idempotent per token, "already exists with
 * different attributes", disabled endpoints reject Publish, deleted ones are NotFound), and a
 * record of every publish for developers (`GET /_local/pushes`).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const LOCAL_APNS_APP = 'arn:aws:sns:us-east-1:000000000000:app/APNS/local-im';
export const LOCAL_APNS_SANDBOX_APP = 'arn:aws:sns:us-east-1:000000000000:app/APNS_SANDBOX/local-im';

interface Endpoint {
  arn: string;
  app: string;
  attributes: Record<string, string>;
}

export interface PublishedPush {
  endpointArn: string;
  token: string;
  platform: string;
  /** The `Message` parameter exactly as published. */
  message: string;
  /** The platform payload inside it, parsed, for convenience. */
  payload: unknown;
  messageStructure: string | undefined;
  publishedAt: string;
}

class SnsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const xmlEscape = (s: string) =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

/** `Attributes.entry.N.key` / `.value` pairs of an awsQuery request. */
function attributesOf(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 1; params.has(`Attributes.entry.${i}.key`); i++)
    out[params.get(`Attributes.entry.${i}.key`)!] = params.get(`Attributes.entry.${i}.value`) ?? '';
  return out;
}

export class LocalSns {
  private readonly endpoints = new Map<string, Endpoint>();
  readonly pushes: PublishedPush[] = [];

  /** Serves `/_local/sns` (the SNS API) and `/_local/pushes`; false for other paths. */
  handleHttp(req: IncomingMessage, res: ServerResponse, body: Buffer): boolean {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '');
    if (path === '/_local/pushes') {
      if (req.method === 'GET') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.pushes));
      else if (req.method === 'DELETE') {
        this.pushes.length = 0;
        res.writeHead(204).end();
      } else res.writeHead(405).end();
      return true;
    }
    if (path !== '/_local/sns') return false;
    const params = new URLSearchParams(body.toString('utf8'));
    const action = params.get('Action') ?? '';
    try {
      const result = this.dispatch(action, params);
      res
        .writeHead(200, { 'content-type': 'text/xml' })
        .end(
          `<${action}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
        );
    } catch (err) {
      const e = err instanceof SnsError ? err : new SnsError(500, 'InternalError', 'internal error');
      res
        .writeHead(e.status, { 'content-type': 'text/xml' })
        .end(
          `<ErrorResponse><Error><Type>Sender</Type><Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
        );
    }
    return true;
  }

  private endpoint(arn: string | null): Endpoint {
    const e = arn ? this.endpoints.get(arn) : undefined;
    if (!e) throw new SnsError(404, 'NotFound', 'Endpoint does not exist');
    return e;
  }

  private dispatch(action: string, p: URLSearchParams): string {
    switch (action) {
      case 'CreatePlatformEndpoint': {
        const app = p.get('PlatformApplicationArn') ?? '';
        const token = p.get('Token') ?? '';
        if (!/^arn:aws:sns:[^:]+:\d+:app\/[A-Z_]+\/.+$/.test(app))
          throw new SnsError(400, 'InvalidParameter', 'Invalid parameter: PlatformApplicationArn');
        if (!token) throw new SnsError(400, 'InvalidParameter', 'Invalid parameter: Token');
        const wanted = { ...attributesOf(p), ...(p.has('CustomUserData') ? { CustomUserData: p.get('CustomUserData')! } : {}) };
        const existing = [...this.endpoints.values()].find((e) => e.app === app && e.attributes.Token === token);
        if (existing) {
          const same = Object.entries(wanted).every(([k, v]) => existing.attributes[k] === v);
          if (!same) {
            throw new SnsError(
              400,
              'InvalidParameter',
              `Invalid parameter: Token Reason: Endpoint ${existing.arn} already exists with the same Token, but different attributes.`,
            );
          }
          return `<EndpointArn>${existing.arn}</EndpointArn>`;
        }
        const arn = `${app.replace(':app/', ':endpoint/')}/${randomUUID()}`;
        this.endpoints.set(arn, { arn, app, attributes: { Enabled: 'true', ...wanted, Token: token } });
        return `<EndpointArn>${arn}</EndpointArn>`;
      }
      case 'GetEndpointAttributes': {
        const e = this.endpoint(p.get('EndpointArn'));
        const entries = Object.entries(e.attributes).map(
          ([k, v]) => `<entry><key>${xmlEscape(k)}</key><value>${xmlEscape(v)}</value></entry>`,
        );
        return `<Attributes>${entries.join('')}</Attributes>`;
      }
      case 'SetEndpointAttributes': {
        const e = this.endpoint(p.get('EndpointArn'));
        Object.assign(e.attributes, attributesOf(p));
        return '';
      }
      case 'DeleteEndpoint':
        this.endpoints.delete(p.get('EndpointArn') ?? '');
        return '';
      case 'Publish': {
        const e = this.endpoint(p.get('TargetArn'));
        if (e.attributes.Enabled !== 'true') throw new SnsError(400, 'EndpointDisabled', 'Endpoint is disabled');
        const message = p.get('Message') ?? '';
        const platform = e.app.split(':app/')[1]!.split('/')[0]!;
        let payload: unknown = message;
        if (p.get('MessageStructure') === 'json') {
          try {
            const outer = JSON.parse(message) as Record<string, string>;
            payload = JSON.parse(outer[platform] ?? outer.default ?? 'null');
          } catch {
            throw new SnsError(400, 'InvalidParameter', 'Invalid parameter: Message Structure - JSON message body failed to parse');
          }
        }
        this.pushes.push({
          endpointArn: e.arn,
          token: e.attributes.Token!,
          platform,
          message,
          payload,
          messageStructure: p.get('MessageStructure') ?? undefined,
          publishedAt: new Date().toISOString(),
        });
        return `<MessageId>${randomUUID()}</MessageId>`;
      }
      default:
        throw new SnsError(400, 'InvalidAction', `The action ${action} is not valid for this endpoint.`);
    }
  }
}
