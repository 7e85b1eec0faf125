/**
 * A local stand-in for API Gateway's WebSocket API: one port serves the WebSocket endpoint and
 * the `@connections` Management API, invokes route handlers with API Gateway-shaped events, sends
 * route responses back, and enforces API Gateway's limits and close codes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Logger } from '../lambdas/domain/context';
import type { RouteResponse, WsEvent } from '../lambdas/runtime/route';

export interface GatewayLimits {
  /** API Gateway: a single frame may carry at most 32 KB. */
  maxFrameBytes: number;
  /** API Gateway: a message (all its frames) may be at most 128 KB. */
  maxMessageBytes: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
}

export const API_GATEWAY_LIMITS: GatewayLimits = {
  maxFrameBytes: 32 * 1024,
  maxMessageBytes: 128 * 1024,
  idleTimeoutMs: 10 * 60 * 1000,
  maxLifetimeMs: 2 * 60 * 60 * 1000,
};

/** Invokes the handler for a route key, as API Gateway invokes that route's Lambda. */
export type Invoke = (routeKey: string, event: WsEvent) => Promise<RouteResponse>;

export interface GatewayOptions {
  host: string;
  port: number;
  stage: string;
  /** Route keys that exist besides `$connect`, `$disconnect`, `$default`. */
  routeKeys: ReadonlySet<string>;
  invoke: Invoke;
  limits: GatewayLimits;
  log: Logger;
  /** Extra HTTP endpoints under `/_local/` (returns false when it did not handle the request). */
  extraHttp?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean;
}

interface LiveConnection {
  id: string;
  ws: WebSocket;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
  idleTimer?: NodeJS.Timeout;
  lifetimeTimer?: NodeJS.Timeout;
  /** Set when a limit was broken: frames still in ws's buffer must not be routed. */
  rejected: boolean;
}

/** API Gateway connection ids look like `L0SM9cOFvHcCIhw=`: 10 random bytes in base64. */
const newConnectionId = () => randomBytes(10).toString('base64');

function requestTime(ms: number): string {
  const d = new Date(ms);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export class LocalGateway {
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, LiveConnection>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly apiId = randomBytes(5).toString('hex');
  private domainName = '';
  private throttledPosts = 0;

  constructor(private readonly opts: GatewayOptions) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.limits.maxMessageBytes,
      perMessageDeflate: false,
      // The subprotocol chosen by `$connect` (its Sec-WebSocket-Protocol response header).
      handleProtocols: (_protocols, req) => (req as IncomingMessage & { chosenProtocol?: string }).chosenProtocol ?? false,
    });
    this.server = createServer((req, res) => this.onHttp(req, res));
    this.server.on('upgrade', (req, socket, head) => this.track(this.onUpgrade(req, socket, head)));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.domainName = `${this.opts.host}:${port}`;
    return port;
  }

  /**
   * The next `n` posts are answered 429 LimitExceededException, as API Gateway does when the
   * account's @connections rate is exceeded (tests of the retry path).
   */
  throttleNextPosts(n: number): void {
    this.throttledPosts = n;
  }

  /** Live connection count (for tests and diagnostics). */
  get size(): number {
    return this.connections.size;
  }

  /** Closes every socket (1001, as API Gateway does when going away), waits for `$disconnect`s. */
  async close(): Promise<void> {
    for (const c of this.connections.values()) c.ws.close(1001, 'Going away');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.drain();
    for (const c of this.connections.values()) c.ws.terminate();
    this.server.closeAllConnections();
  }

  /** Waits until no handler invocation is running. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Registers work that `drain` and `close` must wait for (handlers, workers). */
  track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  private baseContext(
    routeKey: string,
    eventType: WsEvent['requestContext']['eventType'],
    c: Pick<LiveConnection, 'id' | 'connectedAt' | 'sourceIp' | 'userAgent'>,
  ) {
    const now = Date.now();
    return {
      routeKey,
      eventType,
      messageDirection: 'IN',
      messageId: eventType === 'MESSAGE' ? randomBytes(10).toString('base64') : undefined,
      extendedRequestId: randomBytes(10).toString('base64'),
      requestTime: requestTime(now),
      requestTimeEpoch: now,
      requestId: randomUUID(),
      stage: this.opts.stage,
      domainName: this.domainName,
      apiId: this.apiId,
      connectionId: c.id,
      connectedAt: c.connectedAt,
      identity: { sourceIp: c.sourceIp, userAgent: c.userAgent },
    };
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const conn = {
      id: newConnectionId(),
      connectedAt: Date.now(),
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      userAgent: req.headers['user-agent'] ?? '',
    };
    const headers: Record<string, string> = {};
    const multiValueHeaders: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      headers[k] = Array.isArray(v) ? v.join(',') : v;
      multiValueHeaders[k] = Array.isArray(v) ? v : [v];
    }
    const url = new URL(req.url ?? '/', 'http://local');
    const query = Object.fromEntries(url.searchParams);
    const event = {
      requestContext: this.baseContext('$connect', 'CONNECT', conn),
      headers,
      multiValueHeaders,
      queryStringParameters: Object.keys(query).length ? query : undefined,
      isBase64Encoded: false,
    } as WsEvent;
    let res: RouteResponse;
    try {
      res = await this.opts.invoke('$connect', event);
    } catch (err) {
      this.opts.log.error('$connect failed', { err });
      res = { statusCode: 500 };
    }
    if (res.statusCode < 200 || res.statusCode > 299) {
      const status = res.statusCode >= 400 && res.statusCode < 600 ? res.statusCode : 403;
      socket.end(`HTTP/1.1 ${status} Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const protocol = Object.entries(res.headers ?? {}).find(([k]) => k.toLowerCase() === 'sec-websocket-protocol')?.[1];
    if (protocol) (req as IncomingMessage & { chosenProtocol?: string }).chosenProtocol = protocol;
    if (socket.destroyed) {
      // The client left during $connect: API Gateway still reports the disconnect.
      void this.track(
        this.invokeDisconnect({ ...conn, lastActiveAt: conn.connectedAt, rejected: false } as LiveConnection, 1006, 'Connection closed'),
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, conn));
  }

  private onOpen(ws: WebSocket, base: { id: string; connectedAt: number; sourceIp: string; userAgent: string }): void {
    const c: LiveConnection = { ...base, ws, lastActiveAt: Date.now(), rejected: false };
    this.connections.set(c.id, c);
    this.enforceFrameLimit(c);
    this.armIdle(c);
    c.lifetimeTimer = setTimeout(() => ws.close(1001, 'Going away'), this.opts.limits.maxLifetimeMs);
    c.lifetimeTimer.unref();

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (c.rejected) return;
      if (isBinary) {
        // API Gateway WebSocket APIs here take text frames only.
        c.rejected = true;
        ws.close(1003, 'Binary frames are not supported');
        return;
      }
      c.lastActiveAt = Date.now();
      this.armIdle(c);
      void this.track(this.onFrame(c, data.toString()));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      clearTimeout(c.idleTimer);
      clearTimeout(c.lifetimeTimer);
      this.connections.delete(c.id);
      void this.track(this.invokeDisconnect(c, code, reason.toString() || 'Connection closed'));
    });
    ws.on('error', (err: Error) => this.opts.log.debug('socket error', { connectionId: c.id, err: err.message }));
  }

  /**
   * ws only limits whole messages; API Gateway also limits each frame. The receiver's frame
   * length hook is internal to ws (pinned major version), so it is wrapped defensively.
   */
  private enforceFrameLimit(c: LiveConnection): void {
    const receiver = (c.ws as unknown as { _receiver?: { haveLength?: (cb: unknown) => void; _payloadLength?: number } })._receiver;
    const original = receiver?.haveLength;
    if (!receiver || typeof original !== 'function') return;
    const max = this.opts.limits.maxFrameBytes;
    receiver.haveLength = function (this: typeof receiver, cb: unknown) {
      if ((this._payloadLength ?? 0) > max && !c.rejected) {
        c.rejected = true;
        c.ws.close(1009, 'Frame too large');
      }
      return original.call(this, cb);
    };
  }

  private armIdle(c: LiveConnection): void {
    clearTimeout(c.idleTimer);
    c.idleTimer = setTimeout(() => c.ws.close(1001, 'Going away'), this.opts.limits.idleTimeoutMs);
    c.idleTimer.unref();
  }

  private selectRoute(body: string): string {
    try {
      const frame = JSON.parse(body) as unknown;
      if (typeof frame === 'object' && frame !== null && !Array.isArray(frame)) {
        const action = (frame as { action?: unknown }).action;
        if (typeof action === 'string' && !action.startsWith('$') && this.opts.routeKeys.has(action)) return action;
      }
    } catch {
      // not JSON: $default
    }
    return '$default';
  }

  private async onFrame(c: LiveConnection, body: string): Promise<void> {
    const routeKey = this.selectRoute(body);
    const event: WsEvent = { requestContext: this.baseContext(routeKey, 'MESSAGE', c), body, isBase64Encoded: false } as WsEvent;
    let res: RouteResponse | undefined;
    try {
      res = await this.opts.invoke(routeKey, event);
    } catch (err) {
      this.opts.log.error('route handler threw', { routeKey, err });
      // What API Gateway sends when the integration fails.
      res = {
        statusCode: 500,
        body: JSON.stringify({ message: 'Internal server error', connectionId: c.id, requestId: event.requestContext.requestId }),
      };
    }
    if (res?.body !== undefined && c.ws.readyState === WebSocket.OPEN) c.ws.send(res.body);
  }

  private async invokeDisconnect(c: LiveConnection, code: number, reason: string): Promise<void> {
    const event = {
      requestContext: { ...this.baseContext('$disconnect', 'DISCONNECT', c), disconnectStatusCode: code, disconnectReason: reason },
      isBase64Encoded: false,
    } as WsEvent;
    try {
      await this.opts.invoke('$disconnect', event);
    } catch (err) {
      this.opts.log.error('$disconnect failed', { err });
    }
  }

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.opts.limits.maxMessageBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        this.routeHttp(req, res, Buffer.concat(chunks), tooLarge);
      } catch (err) {
        this.opts.log.error('local HTTP endpoint failed', { err });
        if (!res.headersSent) res.writeHead(500).end();
      }
    });
  }

  private routeHttp(req: IncomingMessage, res: ServerResponse, body: Buffer, tooLarge: boolean): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const m = /^(?:\/[^/@]+)?\/@connections\/([^/]+)$/.exec(path);
    if (m) return this.managementApi(req.method ?? 'GET', decodeURIComponent(m[1]!), body, tooLarge, res);
    if (this.opts.extraHttp?.(req, res, body)) return;
    res.writeHead(426, { 'content-type': 'text/plain' }).end('This is a WebSocket endpoint: connect with a WebSocket client.\n');
  }

  private managementApi(method: string, id: string, body: Buffer, tooLarge: boolean, res: ServerResponse): void {
    const error = (status: number, type: string, message: string): void =>
      void res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type }).end(JSON.stringify({ message }));
    const c = this.connections.get(id);
    if (!c || c.ws.readyState !== WebSocket.OPEN) return error(410, 'GoneException', `connection ${id} is gone`);
    switch (method) {
      case 'POST':
        if (this.throttledPosts > 0) {
          this.throttledPosts--;
          return error(429, 'LimitExceededException', 'Rate exceeded');
        }
        if (tooLarge) return error(413, 'PayloadTooLargeException', 'payload exceeds 128 KB');
        c.ws.send(body.toString('utf8'));
        return void res.writeHead(200).end();
      case 'GET':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            connectedAt: new Date(c.connectedAt).toISOString(),
            lastActiveAt: new Date(c.lastActiveAt).toISOString(),
            identity: { sourceIp: c.sourceIp, userAgent: c.userAgent },
          }),
        );
      case 'DELETE':
        c.ws.close(1000, 'Connection closed by server');
        return void res.writeHead(204).end();
      default:
        return error(405, 'MethodNotAllowed', `${method} is not supported on @connections`);
    }
  }
}
