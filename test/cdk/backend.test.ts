/** The backend as a construct in someone else's app (bundling skipped for speed). */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ImBackend } from '../../lib';
import { ROUTES } from '../../lib/routes';

const synth = (props: ConstructorParameters<typeof ImBackend>[2]) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'MyApp', { env: { account: '123456789012', region: 'ap-southeast-1' } });
  const backend = new ImBackend(stack, 'Chat', props);
  return { stack, backend, template: Template.fromStack(stack) };
};

test('placed in another stack, it synthesizes with every route and exposes its resources', () => {
  const { backend, template } = synth({ appId: 'my-app' });
  expect([...backend.functions.keys()].sort()).toEqual(ROUTES.map((r) => r.routeKey).sort());
  expect(Object.keys(backend.tables).sort()).toEqual([
    'connections',
    'conversations',
    'devices',
    'keys',
    'members',
    'messages',
    'presence',
    'rooms',
  ]);
  expect(backend.url).toBeDefined();
  template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
  template.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ IM_APP_ID: 'my-app' }) },
  });
});

test('typed settings become the functions environment', () => {
  const { template } = synth({
    appId: 'x',
    maxMessageBytes: 2048,
    kickPolicy: 'member',
    logLevel: 'warn',
    rateLimits: { sendPer10s: 0, otherPer10s: 30, openPer10s: 5 },
    findMaxCandidates: 500,
    pushAlert: 'New message',
  });
  template.hasResourceProperties('AWS::Lambda::Function', {
    Description: 'IM route send',
    Environment: {
      Variables: Match.objectLike({
        IM_APP_ID: 'x',
        IM_MAX_MESSAGE_BYTES: '2048',
        IM_KICK_POLICY: 'member',
        IM_LOG_LEVEL: 'warn',
        IM_RATE_SEND_PER_10S: '0',
        IM_RATE_OTHER_PER_10S: '30',
        IM_RATE_OPEN_PER_10S: '5',
        IM_FIND_MAX_CANDIDATES: '500',
        IM_PUSH_ALERT: 'New message',
      }),
    },
  });
});

test('a setting that is not a whole number, or a size of 0, fails the synth; a rate limit of 0 is off', () => {
  expect(() => synth({ maxMessageBytes: 12.5 })).toThrow(/IM_MAX_MESSAGE_BYTES/);
  expect(() => synth({ maxMessageBytes: 0 })).toThrow(/IM_MAX_MESSAGE_BYTES: 0 is not a whole number ≥ 1/);
  expect(() => synth({ findMaxCandidates: 0 })).toThrow(/IM_FIND_MAX_CANDIDATES/);
  expect(() => synth({ rateLimits: { sendPer10s: 0 } })).not.toThrow();
});
