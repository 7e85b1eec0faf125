/** The handler framework: replies, fire-and-forget, and internal errors that reveal nothing. */
import { encodeNativeEvent } from '../../lambdas/protocol/events';
import type { ConnectionGateway } from '../../lambdas/gateways/connection-gateway';
import type { Db } from '../../lambdas/stores/dynamo';
import { configFromEnv } from '../../lambdas/runtime/config';
import type { Deps } from '../../lambdas/domain/context';
import { createLogger } from '../../lambdas/runtime/log';
import type { WsEvent } from '../../lambdas/runtime/route';
import { handle as ping } from '../../lambdas/handlers/ping';
import { handle as send } from '../../lambdas/handlers/send';

function event(body: string): WsEvent {
  return {
    requestContext: {
      routeKey: 'x',
      eventType: 'MESSAGE',
      connectionId: 'c1=',
      domainName: 'd',
      stage: 's',
      requestId: 'r',
      requestTimeEpoch: 0,
    },
    body,
  };
}

// DynamoDB failing the way AWS does when something is misconfigured: the SDK error names the table.
const failingDb = {
  send: async () => {
    const err = new Error('Requested resource not found: Table: im-connections not found');
    err.name = 'ResourceNotFoundException';
    throw err;
  },
} as unknown as Db;

const posted: string[] = [];
const gateway: ConnectionGateway = { post: async (_id, d) => (posted.push(d), 'ok'), disconnect: async () => undefined };
const deps: Deps = {
  config: configFromEnv({}),
  encoders: { native: encodeNativeEvent, leancloud: () => undefined },
  db: failingDb,
  gatewayFor: () => gateway,
  log: createLogger('silent'),
  now: () => 1,
  push: undefined,
  invokeWorker: () => Promise.reject(new Error('no workers in this test')),
  masterKeys: async () => [],
};

test('a request with id gets exactly one reply as the route response', async () => {
  expect(await ping(event('{"action":"ping","id":"p"}'), deps)).toEqual({
    statusCode: 200,
    body: '{"reply":"ping","id":"p","ok":true,"result":{}}',
  });
});

test('without id: no reply body, even on error', async () => {
  expect(await ping(event('{"action":"ping"}'), deps)).toEqual({ statusCode: 200 });
  expect(await send(event('{"action":"send","cid":"c","data":"x"}'), deps)).toEqual({ statusCode: 200 });
  expect(posted).toEqual([]);
});

test('unexpected failures are 4200 without internals', async () => {
  const res = await send(event('{"action":"send","id":1,"cid":"c","data":"x"}'), deps);
  const body = JSON.parse(res.body!) as { error: { code: number; name: string; message: string } };
  expect(body.error).toEqual({ code: 4200, name: 'INTERNAL_ERROR', message: 'internal error, retry later' });
  expect(res.body).not.toMatch(/im-connections|ResourceNotFound|stack/i);
});
