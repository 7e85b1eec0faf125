/** A real WebSocket client speaking the native protocol, with helpers to await replies and events. */
import { WebSocket } from 'ws';

export interface Reply {
  reply: string | null;
  id?: string | number;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: { code: number; name: string; message: string };
}

export type Frame = Record<string, unknown>;

export class TestClient {
  readonly frames: Frame[] = [];
  private nextId = 1;
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  closeCode?: number;
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) throw new Error('server sent a binary frame');
      const frame = JSON.parse(data.toString()) as Frame;
      const i = this.waiters.findIndex((w) => w.match(frame));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(frame);
      else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve((this.closeCode = code))));
  }

  static connect(url: string, protocols?: string[]): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** Connects and opens a session as `clientId`. */
  static async open(url: string, clientId: string, extra: Frame = {}): Promise<TestClient> {
    const c = await TestClient.connect(url);
    const r = await c.request('open', { clientId, ...extra });
    if (!r.ok) throw new Error(`open ${clientId} failed: ${JSON.stringify(r.error)}`);
    return c;
  }

  sendRaw(data: string | Buffer, opts?: { binary?: boolean }): void {
    this.ws.send(data, { binary: opts?.binary ?? false });
  }

  send(frame: Frame): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Sends `action` with a fresh id and resolves with its reply. */
  async request(action: string, fields: Frame = {}, timeoutMs = 5000): Promise<Reply> {
    const id = String(this.nextId++);
    const reply = this.waitFor((f) => f.reply !== undefined && f.id === id, timeoutMs, `reply to ${action} #${id}`);
    this.send({ action, id, ...fields });
    return (await reply) as unknown as Reply;
  }

  /** Like request, but fails the test unless ok; returns the result. */
  async ok(action: string, fields: Frame = {}): Promise<Record<string, unknown>> {
    const r = await this.request(action, fields);
    if (!r.ok) throw new Error(`${action} failed: ${JSON.stringify(r.error)}`);
    return r.result!;
  }

  /** The next frame matching `match` (already buffered or future). */
  waitFor(match: (f: Frame) => boolean, timeoutMs = 5000, what = 'frame'): Promise<Frame> {
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}; buffered: ${JSON.stringify(this.frames).slice(0, 500)}`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      this.waiters.push(waiter);
    });
  }

  event(name: string, timeoutMs = 5000, where: (f: Frame) => boolean = () => true): Promise<Frame> {
    return this.waitFor((f) => f.event === name && where(f), timeoutMs, `event ${name}`);
  }

  /** Buffered events of one name, removed from the buffer. */
  take(name: string): Frame[] {
    const out = this.frames.filter((f) => f.event === name);
    for (const f of out) this.frames.splice(this.frames.indexOf(f), 1);
    return out;
  }

  /**
   * Asserts no event of this name arrives: a ping round trip through the server first, so
   * anything the server had already posted has arrived.
   */
  async expectNo(name: string): Promise<void> {
    await this.request('ping');
    const found = this.frames.filter((f) => f.event === name);
    if (found.length > 0) throw new Error(`unexpected ${name}: ${JSON.stringify(found)}`);
  }

  close(): Promise<number> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    return this.closed;
  }
}
