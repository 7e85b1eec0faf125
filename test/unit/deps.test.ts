/**
 * The Lambda composition root: building the dependencies loads no AWS SDK package but
 * DynamoDB's, and builds no client but DynamoDB's; each gateway loads its SDK on first use, once
 * per container. The SDK packages are replaced by fakes that record what they were asked.
 */
import type { Deps } from '../../lambdas/domain/context';

const mockLoaded: string[] = [];
const mockSent: { sdk: string; command: string; input: unknown }[] = [];
/** Set by a test to make the fake SNS fail the next call with an error of that name. */
const mockSnsFailure: { name?: string } = {};

function mockSdk(sdk: string, clientName: string, commands: string[], answer: (command: string, input: unknown) => unknown) {
  mockLoaded.push(sdk);
  class Client {
    async send(command: { constructor: { name: string }; input: unknown }): Promise<unknown> {
      mockSent.push({ sdk, command: command.constructor.name, input: command.input });
      return answer(command.constructor.name, command.input);
    }
    destroy(): void {}
  }
  const module: Record<string, unknown> = { [clientName]: Client };
  for (const name of commands) {
    module[name] = {
      [name]: class {
        constructor(readonly input: unknown) {}
      },
    }[name];
  }
  return module;
}

jest.mock('@aws-sdk/client-sns', () =>
  mockSdk('sns', 'SNSClient', ['PublishCommand', 'DeleteEndpointCommand'], () => {
    const name = mockSnsFailure.name;
    mockSnsFailure.name = undefined;
    if (name) throw Object.assign(new Error(name), { name });
    return {};
  }),
);
jest.mock('@aws-sdk/client-lambda', () => mockSdk('lambda', 'LambdaClient', ['InvokeCommand'], () => ({})));
jest.mock('@aws-sdk/client-secrets-manager', () =>
  mockSdk('secrets-manager', 'SecretsManagerClient', ['GetSecretValueCommand'], () => ({ SecretString: 'the-key' })),
);
jest.mock('@aws-sdk/client-apigatewaymanagementapi', () =>
  mockSdk('management-api', 'ApiGatewayManagementApiClient', ['PostToConnectionCommand', 'DeleteConnectionCommand'], () => ({})),
);

const ENV = {
  IM_APNS_PLATFORM_ARN: 'arn:aws:sns:eu-west-1:123456789012:app/APNS/app',
  IM_MASTER_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:im',
  IM_WORKER_PUSH: 'push-function',
  IM_LOG_LEVEL: 'silent',
};

const saved = { ...process.env };

/** A fresh container: module state (the cached dependencies) starts over. */
async function coldStart(env: Record<string, string>): Promise<Deps> {
  jest.resetModules();
  mockLoaded.length = 0;
  mockSent.length = 0;
  process.env = { ...saved, ...env };
  const { depsFromEnv } = await import('../../lambdas/runtime/deps');
  return depsFromEnv();
}

afterEach(() => {
  process.env = { ...saved };
});

test('building the dependencies loads no SNS, Lambda, Secrets Manager or Management API SDK', async () => {
  const deps = await coldStart(ENV);
  expect(deps.push).toBeDefined();
  deps.gatewayFor({ domainName: 'example.com', stage: 'prod' });
  expect(mockLoaded).toEqual([]);
});

test('without a push platform there are no push endpoints', async () => {
  const deps = await coldStart({ IM_LOG_LEVEL: 'silent' });
  expect(deps.push).toBeUndefined();
});

test('the master keys are read from Secrets Manager on first use, once', async () => {
  const deps = await coldStart(ENV);
  expect(await deps.masterKeys()).toEqual(['the-key']);
  expect(await deps.masterKeys()).toEqual(['the-key']);
  expect(mockLoaded).toEqual(['secrets-manager']);
  expect(mockSent).toEqual([
    { sdk: 'secrets-manager', command: 'GetSecretValueCommand', input: { SecretId: ENV.IM_MASTER_KEY_SECRET_ARN } },
  ]);
});

test('a worker is invoked asynchronously by the function the environment names; unconfigured, nothing is loaded', async () => {
  const unconfigured = await coldStart({ ...ENV, IM_WORKER_PUSH: '' });
  await expect(unconfigured.invokeWorker('push', {})).rejects.toThrow(/IM_WORKER_PUSH/);
  expect(mockLoaded).toEqual([]);

  const deps = await coldStart(ENV);
  await deps.invokeWorker('push', { cid: 'c' });
  await deps.invokeWorker('push', { cid: 'd' });
  expect(mockLoaded).toEqual(['lambda']);
  expect(mockSent.map((s) => s.input)).toEqual([
    { FunctionName: 'push-function', InvocationType: 'Event', Payload: Buffer.from('{"cid":"c"}') },
    { FunctionName: 'push-function', InvocationType: 'Event', Payload: Buffer.from('{"cid":"d"}') },
  ]);
});

test('a publish SNS refuses for a disabled or deleted endpoint is reported gone; other failures propagate', async () => {
  const push = (await coldStart(ENV)).push!;
  expect(await push.publish('arn:e1', '{"default":"hi"}')).toEqual({ published: true });
  expect(mockSent).toEqual([
    { sdk: 'sns', command: 'PublishCommand', input: { TargetArn: 'arn:e1', MessageStructure: 'json', Message: '{"default":"hi"}' } },
  ]);
  mockSnsFailure.name = 'EndpointDisabledException';
  expect(await push.publish('arn:e1', '{}')).toEqual({ published: false, gone: 'EndpointDisabledException' });
  mockSnsFailure.name = 'NotFoundException';
  expect(await push.publish('arn:e1', '{}')).toEqual({ published: false, gone: 'NotFoundException' });
  mockSnsFailure.name = 'ThrottledException';
  await expect(push.publish('arn:e1', '{}')).rejects.toMatchObject({ name: 'ThrottledException' });
  expect(mockLoaded).toEqual(['sns']);
});

test('the Management API SDK is loaded by the first post', async () => {
  const gateway = (await coldStart(ENV)).gatewayFor({ domainName: 'example.com', stage: 'prod' });
  expect(await gateway.post('c1=#bob', 'frame')).toBe('ok');
  expect(mockLoaded).toEqual(['management-api']);
  expect(mockSent).toEqual([
    { sdk: 'management-api', command: 'PostToConnectionCommand', input: { ConnectionId: 'c1=', Data: Buffer.from('frame') } },
  ]);
});
