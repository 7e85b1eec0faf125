/**
 * The official LeanCloud JavaScript SDK (`leancloud-realtime`, CommonJS without bundled types)
 * pointed at a local stack, with the few types the tests use, and raw LeanCloud frames for what
 * the SDK does not expose.
 */
import { WebSocket } from 'ws';
import { decodeFrame, encodeFrame, type LcCommand } from '../../lambdas/leancloud/codec';
import type { StackHandle } from './stack';

export interface LcMessage {
  id: string;
  from: string;
  cid: string;
  text?: string;
  timestamp: Date;
  status?: number;
}

export interface LcConversation {
  id: string;
  name: string;
  members: string[];
  creator: string;
  unreadMessagesCount: number;
  lastDeliveredAt?: Date;
  send(message: object, options?: object): Promise<LcMessage>;
  queryMessages(o: object): Promise<LcMessage[]>;
  join(): Promise<unknown>;
  quit(): Promise<unknown>;
  add(ids: string[]): Promise<unknown>;
  remove(ids: string[]): Promise<unknown>;
  count(): Promise<number>;
  read(): Promise<unknown>;
  get(key: string): unknown;
  set(key: string, value: unknown): LcConversation;
  save(): Promise<LcConversation>;
  on(event: string, fn: (...args: unknown[]) => void): void;
}

export interface LcClient {
  id: string;
  close(): Promise<void>;
  on(event: string, fn: (...args: unknown[]) => void): void;
  once(event: string, fn: (...args: unknown[]) => void): void;
  createConversation(o: object): Promise<LcConversation>;
  createChatRoom(o: object): Promise<LcConversation>;
  getConversation(id: string): Promise<LcConversation>;
}

export interface LcRealtime {
  createIMClient(id?: string, options?: object, tag?: string): Promise<LcClient>;
  register(messageClass: unknown): void;
  on(event: string, fn: (...args: unknown[]) => void): void;
  _close?(): void;
}

type Ctor<T> = new (...args: never[]) => T;

/** What the tests use of one version of the SDK's module. */
export interface LeanCloudSdk {
  Realtime: new (opts: object) => LcRealtime;
  TextMessage: new (text: string) => { text?: string; setAttributes(a: object): unknown };
  TypedMessage: Ctor<object>;
  /** Decorators: they modify the class in place and return nothing. */
  messageType(type: number): (cls: object) => void;
  messageField(fields: string[]): (cls: object) => void;
  MessageQueryDirection: { NEW_TO_OLD: number; OLD_TO_NEW: number };
  MessageStatus: Record<string, number>;
}

/**
 * The SDK versions every SDK test runs against: 4.3.1 (npm's `latest`, what most apps use) and
 * 5.0.0-rc.8 (the last release; what `leancloud-storage` 4 pulls in), installed under an alias.
 */
export const SDK_VERSIONS: [string, LeanCloudSdk][] = [
  ['4.3.1', require('leancloud-realtime') as LeanCloudSdk],
  ['5.0.0-rc.8', require('leancloud-realtime-5') as LeanCloudSdk],
];

/**
 * `new Realtime(...)` for this stack: only the local URL, text frames, and the stack as router
 * and API host, so that nothing reaches a public LeanCloud host even on reconnect.
 * Every instance is torn down after each test: the SDK can keep its socket and timers after its
 * clients closed, and `_close()` is its own teardown.
 */
export function useRealtime(h: StackHandle, sdk: LeanCloudSdk, appId = 'local-app'): (options?: object) => LcRealtime {
  const instances: LcRealtime[] = [];
  let made = 0;
  afterEach(() => {
    for (const rt of instances.splice(0)) rt._close?.();
  });
  return (options = {}) => {
    const rt = new sdk.Realtime({
      // SDK 5 allows one Realtime per app id in a process, and the tests play several devices.
      // The server does not read the SDK's app id (signatures use the deployment's).
      appId: `${appId}-${++made}`,
      appKey: 'local-key',
      RTMServers: [h.url],
      noBinary: true,
      // The SDK's REST calls (reliable notifications, on reconnects) go to the local stack,
      // which has no such API: the SDK logs the failure and carries on.
      server: { RTMRouter: new URL(h.url).host, api: new URL(h.url).host },
      ...options,
    });
    instances.push(rt);
    return rt;
  };
}

/** Resolves with the arguments of the next `event` of `emitter`. */
export function next<T extends unknown[] = unknown[]>(
  emitter: { once?(e: string, f: (...a: unknown[]) => void): void; on(e: string, f: (...a: unknown[]) => void): void },
  event: string,
): Promise<T> {
  return new Promise((resolve) => (emitter.once ?? emitter.on).call(emitter, event, (...args: unknown[]) => resolve(args as T)));
}

/** A raw `lc.proto2base64.3` socket: commands out, decoded commands in. */
export class RawLeanCloud {
  private nextI = 1;
  readonly received: LcCommand[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.received.push(decodeFrame(d.toString())));
  }

  static async connect(url: string): Promise<RawLeanCloud> {
    const ws = new WebSocket(url, ['lc.proto2base64.3']);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new RawLeanCloud(ws);
  }

  /** Sends a command with a fresh `i` and resolves with the reply that echoes it. */
  async request(command: LcCommand): Promise<LcCommand> {
    const i = this.nextI++;
    this.ws.send(encodeFrame({ ...command, i }));
    for (let waited = 0; waited < 5000; waited += 10) {
      const reply = this.received.find((c) => c.i === i);
      if (reply) return reply;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no reply to ${command.cmd}/${command.op ?? ''}`);
  }

  close(): void {
    this.ws.close();
  }
}
