/** Assertions on the synthesized CloudFormation template (bundling skipped for speed). */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { actionsFor } from '../../lib/im-backend';
import { ImStack } from '../../lib/im-stack';
import { ROUTES } from '../../lib/routes';
import { TABLES, TABLE_NAMES, type TableDef } from '../../lib/tables';

type Resource = { Type: string; Properties: Record<string, unknown> };

let template: Template;
let stack: ImStack;
beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  stack = new ImStack(app, 'TestIm', { env: { account: '123456789012', region: 'eu-west-1' } });
  template = Template.fromStack(stack);
});

test('a WebSocket API routing on the frame action, with every route of the route table', () => {
  template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
    ProtocolType: 'WEBSOCKET',
    RouteSelectionExpression: '$request.body.action',
  });
  const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[];
  expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(ROUTES.map((r) => r.routeKey).sort());
  // Replies travel as route responses on every action route.
  const responses = Object.values(template.findResources('AWS::ApiGatewayV2::RouteResponse')) as Resource[];
  expect(responses).toHaveLength(ROUTES.length - 2);
  template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: 'prod', AutoDeploy: true });
});

test('one Node 24 arm64 function per route, each with its own role', () => {
  const fns = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
  const routeFns = fns.filter((f) => String(f.Properties.Description ?? '').startsWith('IM route '));
  expect(routeFns.map((f) => String(f.Properties.Description).slice('IM route '.length)).sort()).toEqual(
    ROUTES.map((r) => r.routeKey).sort(),
  );
  for (const f of routeFns) {
    expect(f.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler', Timeout: 29 });
  }
});

test('tables are on-demand with point-in-time recovery, TTL and indexes from lib/tables.ts', () => {
  const tables = Object.values(template.findResources('AWS::DynamoDB::GlobalTable')) as Resource[];
  expect(tables).toHaveLength(TABLE_NAMES.length);
  for (const name of TABLE_NAMES) {
    const def: TableDef = TABLES[name];
    const keySchema = [
      { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
      ...(def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' }] : []),
    ];
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: keySchema,
      BillingMode: 'PAY_PER_REQUEST',
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      ...(def.ttlAttribute ? { TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true } } : {}),
      ...(def.indexes
        ? {
            GlobalSecondaryIndexes: def.indexes.map((ix) =>
              Match.objectLike({ IndexName: ix.name, Projection: { ProjectionType: ix.projection } }),
            ),
          }
        : {}),
    });
  }
});

test('each function may touch only the tables and actions its route declares', () => {
  const tableLogicalIds = new Map(TABLE_NAMES.map((t) => [stack.getLogicalId(stack.backend.tables[t].node.defaultChild as never), t]));
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  for (const route of ROUTES) {
    const fn = stack.backend.functions.get(route.routeKey)!;
    const roleId = stack.getLogicalId(fn.role!.node.defaultChild as never);
    const policy = policies.find((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId));
    const statements =
      (policy?.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] } | undefined)?.Statement ?? [];
    const granted = new Map<string, Set<string>>();
    let manage = false;
    for (const s of statements) {
      const actions = ([] as string[]).concat(s.Action);
      const text = JSON.stringify(s.Resource);
      expect(text).not.toBe('"*"');
      if (actions.includes('execute-api:ManageConnections')) {
        manage = true;
        expect(text).toContain('@connections/*');
        continue;
      }
      for (const [logicalId, table] of tableLogicalIds) {
        if (text.includes(`"${logicalId}"`)) {
          const set = granted.get(table) ?? new Set<string>();
          actions.forEach((a) => set.add(a));
          granted.set(table, set);
        }
      }
    }
    const expected = new Map(Object.entries(route.tables).map(([t, a]) => [t, new Set(actionsFor(a))]));
    for (const t of route.scans ?? []) expected.get(t)!.add('dynamodb:Scan');
    expect({ route: route.routeKey, tables: [...granted.keys()].sort() }).toEqual({
      route: route.routeKey,
      tables: [...expected.keys()].sort(),
    });
    for (const [t, acts] of expected) expect([...granted.get(t)!].sort()).toEqual([...acts].sort());
    expect({ route: route.routeKey, manage }).toEqual({ route: route.routeKey, manage: route.postsToConnections });
  }
});

test('no statement grants every action or every resource', () => {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  for (const p of policies) {
    for (const s of (p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement) {
      expect(JSON.stringify(s.Action)).not.toMatch(/"\*"|:\*"/);
      expect(s.Resource).not.toBe('*');
    }
  }
});

test('the stage is throttled and writes access logs without message bodies', () => {
  const stage = (Object.values(template.findResources('AWS::ApiGatewayV2::Stage')) as Resource[])[0]!;
  expect(stage.Properties.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 });
  const format = JSON.parse((stage.Properties.AccessLogSettings as { Format: string }).Format) as Record<string, string>;
  expect(format).toMatchObject({ requestId: '$context.requestId', routeKey: '$context.routeKey', connectionId: '$context.connectionId' });
  expect(JSON.stringify(format)).not.toMatch(/body|querystring/i);
  template.resourceCountIs('AWS::ApiGateway::Account', 1);
  // No function uses the account-wide basic execution managed policy.
  for (const role of Object.values(template.findResources('AWS::IAM::Role')) as Resource[]) {
    expect(JSON.stringify(role.Properties.ManagedPolicyArns ?? [])).not.toContain('AWSLambdaBasicExecutionRole');
  }
});

test('the WebSocket URL is an output', () => {
  template.hasOutput('WebSocketUrl', {});
});

describe('push', () => {
  const APP = 'arn:aws:sns:eu-west-1:123456789012:app/APNS/my-app';
  const SANDBOX = 'arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/my-app';

  function synth(push?: { apnsPlatformArn?: string; apnsSandboxPlatformArn?: string }) {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const s = new ImStack(app, 'PushIm', { env: { account: '123456789012', region: 'eu-west-1' }, push });
    return { s, t: Template.fromStack(s) };
  }

  const statementsOf = (t: Template) =>
    (Object.values(t.findResources('AWS::IAM::Policy')) as Resource[]).flatMap(
      (p) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement,
    );

  test('without platform applications push is off: no worker, no SNS or invoke permissions', () => {
    const { s, t } = synth();
    expect(s.backend.workers.size).toBe(0);
    const actions = statementsOf(t).flatMap((st) => ([] as string[]).concat(st.Action));
    expect(actions.filter((a) => a.startsWith('sns:') || a.startsWith('lambda:'))).toEqual([]);
  });

  test('with them: a push worker that send may invoke, and SNS actions only on those applications and their endpoints', () => {
    const { s, t } = synth({ apnsPlatformArn: APP, apnsSandboxPlatformArn: SANDBOX });
    const worker = s.backend.workers.get('push')!;
    expect(worker).toBeDefined();
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'IM route send',
      Environment: {
        Variables: Match.objectLike({
          IM_WORKER_PUSH: { Ref: s.getLogicalId(worker.node.defaultChild as never) },
          IM_APNS_PLATFORM_ARN: APP,
        }),
      },
    });
    const sns = statementsOf(t).filter((st) => ([] as string[]).concat(st.Action).some((a) => a.startsWith('sns:')));
    const endpoints = [
      `arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/my-app/*`,
      `arn:aws:sns:eu-west-1:123456789012:endpoint/APNS_SANDBOX/my-app/*`,
    ];
    for (const st of sns) {
      const actions = ([] as string[]).concat(st.Action);
      const resources = ([] as unknown[]).concat(st.Resource);
      if (actions.includes('sns:CreatePlatformEndpoint')) expect(resources).toEqual([APP, SANDBOX]);
      else expect(resources).toEqual(endpoints);
    }
    const publishers = sns.filter((st) => ([] as string[]).concat(st.Action).includes('sns:Publish'));
    expect(publishers).toHaveLength(1);
    const invoke = statementsOf(t).filter((st) => ([] as string[]).concat(st.Action).includes('lambda:InvokeFunction'));
    // One grant per route that starts the worker (send, and $default for LeanCloud's direct).
    expect(invoke).toHaveLength(ROUTES.filter((r) => r.invokes?.includes('push')).length);
  });

  test('a malformed platform application ARN fails the synth', () => {
    expect(() => synth({ apnsPlatformArn: 'arn:aws:sns:eu-west-1:123456789012:mytopic' })).toThrow(/not an SNS platform application ARN/);
  });
});

describe('signatures', () => {
  test('the master key is a Secrets Manager secret readable only by the routes that verify signatures', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const s = new ImStack(app, 'SigIm', { env: { account: '123456789012', region: 'eu-west-1' }, signatures: { required: true } });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const secretId = s.getLogicalId(s.backend.masterKeySecret!.node.defaultChild as never);
    const verifying = ROUTES.filter((r) => r.verifiesSignatures)
      .map((r) => r.routeKey)
      .sort();
    expect(verifying).toEqual(['$default', 'create', 'invite', 'join', 'kick', 'open']);
    const policies = Object.values(t.findResources('AWS::IAM::Policy')) as Resource[];
    for (const route of ROUTES) {
      const fn = s.backend.functions.get(route.routeKey)!;
      const roleId = s.getLogicalId(fn.role!.node.defaultChild as never);
      const text = JSON.stringify(policies.filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId)));
      expect({ route: route.routeKey, reads: text.includes('secretsmanager:GetSecretValue') && text.includes(secretId) }).toEqual({
        route: route.routeKey,
        reads: route.verifiesSignatures === true,
      });
      const env = (
        t.findResources('AWS::Lambda::Function')[s.getLogicalId(fn.node.defaultChild as never)]!.Properties as {
          Environment: { Variables: Record<string, unknown> };
        }
      ).Environment.Variables;
      expect({ route: route.routeKey, required: env.IM_SIGNATURE_REQUIRED }).toEqual({
        route: route.routeKey,
        required: route.verifiesSignatures ? 'true' : undefined,
      });
      expect(JSON.stringify(env)).not.toMatch(/IM_MASTER_KEY"/);
    }
  });
});
