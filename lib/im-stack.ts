/**
 * The AWS deployment: a WebSocket API whose routes come from the route table, one Lambda per
 * route with IAM limited to what the table says it touches, and the DynamoDB tables from
 * lib/tables.ts.
 */
import { join } from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { LogGroupLogDestination, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct, IConstruct } from 'constructs';
import { DYNAMODB_ACTIONS, ROUTES, WORKERS, workerEnvVar, type Access, type RouteDef, type WorkerName } from './routes';
import { TABLES, TABLE_NAMES, tableEnvVar, type TableDef, type TableName } from './tables';

export interface ImStackProps extends StackProps {
  stageName?: string;
  /**
   * SNS platform application ARNs for APNs (production and sandbox). Without any, the stack
   * deploys with push off: no push worker, no SNS permissions.
   */
  push?: { apnsPlatformArn?: string; apnsSandboxPlatformArn?: string };
  /**
   * Require PROTOCOL.md §12 signatures. The master key lives in Secrets Manager: the secret
   * named by `masterKeySecretArn`, else one the stack generates. Read once per container.
   */
  signatures?: { required: boolean; masterKeySecretArn?: string };
  /** Stage-wide throttling of client frames (API Gateway's steady rate and burst). */
  throttle?: { rateLimit?: number; burstLimit?: number };
  /**
   * Access logs need API Gateway's account-level CloudWatch role in this region. The stack sets
   * it (AWS::ApiGateway::Account) unless this is false because the account already has one.
   */
  apiGatewayAccountRole?: boolean;
  /** PROTOCOL.md §14 settings passed to every function (never secrets). */
  settings?: Partial<
    Record<
      | 'IM_APP_ID'
      | 'IM_MAX_MESSAGE_BYTES'
      | 'IM_PUSH_ALERT'
      | 'IM_KICK_POLICY'
      | 'IM_LOG_LEVEL'
      | 'IM_RATE_SEND_PER_10S'
      | 'IM_RATE_OTHER_PER_10S'
      | 'IM_FIND_MAX_CANDIDATES',
      string
    >
  >;
}

export function actionsFor(access: Access): string[] {
  return [...(access.includes('r') ? DYNAMODB_ACTIONS.r : []), ...(access.includes('w') ? DYNAMODB_ACTIONS.w : [])].map(
    (a) => `dynamodb:${a}`,
  );
}

const pascal = (s: string) => s.replace(/^\$/, '').replace(/(^|[-_])(\w)/g, (_, __, c: string) => c.toUpperCase());

export class ImStack extends Stack {
  readonly tables: Record<TableName, TableV2>;
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly functions = new Map<string, NodejsFunction>();
  readonly workers = new Map<string, NodejsFunction>();
  private readonly pushApplications: string[];
  /** Present when signatures are required. */
  readonly masterKeySecret?: ISecret;

  constructor(scope: Construct, id: string, props: ImStackProps = {}) {
    super(scope, id, props);

    this.tables = {} as Record<TableName, TableV2>;
    for (const name of TABLE_NAMES) {
      const def: TableDef = TABLES[name];
      const key = (k: { name: string; type: 'S' | 'N' }) => ({
        name: k.name,
        type: k.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER,
      });
      this.tables[name] = new TableV2(this, `${pascal(name)}Table`, {
        partitionKey: key(def.partitionKey),
        ...(def.sortKey ? { sortKey: key(def.sortKey) } : {}),
        billing: Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(def.ttlAttribute ? { timeToLiveAttribute: def.ttlAttribute } : {}),
        globalSecondaryIndexes: (def.indexes ?? []).map((ix) => ({
          indexName: ix.name,
          partitionKey: key(ix.partitionKey),
          ...(ix.sortKey ? { sortKey: key(ix.sortKey) } : {}),
          projectionType: ix.projection === 'ALL' ? ProjectionType.ALL : ProjectionType.KEYS_ONLY,
        })),
        // Conversations and messages are user data: keep them if the stack is deleted.
        removalPolicy: RemovalPolicy.RETAIN,
      });
    }

    this.api = new WebSocketApi(this, 'Api', {
      apiName: `${this.stackName}-ws`,
      routeSelectionExpression: '$request.body.action',
      description: 'Realtime IM WebSocket API (route key = frame action)',
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName ?? 'prod',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle?.rateLimit ?? 1000, burstLimit: props.throttle?.burstLimit ?? 2000 },
      // Who, what route, what outcome, how long: never message bodies (WebSocket frames carry no query strings).
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTimeEpoch',
            routeKey: '$context.routeKey',
            eventType: '$context.eventType',
            connectionId: '$context.connectionId',
            sourceIp: '$context.identity.sourceIp',
            status: '$context.status',
            integrationStatus: '$context.integrationStatus',
            integrationLatency: '$context.integrationLatency',
            error: '$context.error.message',
          }),
        ),
      },
    });
    if (props.apiGatewayAccountRole !== false) this.apiGatewayLoggingRole();

    const push = props.push ?? {};
    this.pushApplications = [push.apnsPlatformArn, push.apnsSandboxPlatformArn].filter((a): a is string => !!a);
    this.pushApplications.forEach(endpointArnPattern); // fail synth early on a malformed ARN
    const environment: Record<string, string> = {
      AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
      ...(push.apnsPlatformArn ? { IM_APNS_PLATFORM_ARN: push.apnsPlatformArn } : {}),
      ...(push.apnsSandboxPlatformArn ? { IM_APNS_SANDBOX_PLATFORM_ARN: push.apnsSandboxPlatformArn } : {}),
      ...Object.fromEntries(TABLE_NAMES.map((t) => [tableEnvVar(t), this.tables[t].tableName])),
      ...Object.fromEntries(Object.entries(props.settings ?? {}).filter((e): e is [string, string] => e[1] !== undefined)),
    };

    if (props.signatures?.required) {
      this.masterKeySecret = props.signatures.masterKeySecretArn
        ? Secret.fromSecretCompleteArn(this, 'MasterKey', props.signatures.masterKeySecretArn)
        : new Secret(this, 'MasterKey', {
            description: 'IM master key: signs open/create/join/invite/kick (PROTOCOL.md §12). Share it with your application server only.',
            generateSecretString: { passwordLength: 48, excludePunctuation: true },
          });
      if (this.masterKeySecret instanceof Secret) {
        acknowledge(this.masterKeySecret, {
          id: 'AwsSolutions-SMG4',
          reason:
            'Rotating the master key must be coordinated with the application servers that sign; docs/security.md describes the two-key rotation ({"current","previous"}).',
        });
      }
    }

    for (const worker of WORKERS) {
      if (worker.needsPush && this.pushApplications.length === 0) continue;
      const fn = this.lambda(`${pascal(worker.name)}Worker`, worker.handler, `IM worker ${worker.name}`, environment, Duration.minutes(5));
      this.grantAccess(fn, worker);
      this.workers.set(worker.name, fn);
    }

    for (const route of ROUTES) {
      const fn = this.routeFunction(route, environment);
      const integration = new WebSocketLambdaIntegration(`${pascal(route.handler)}Integration`, fn);
      // $connect/$disconnect have no route response; every other route replies through it.
      const r = this.api.addRoute(route.routeKey, {
        integration,
        returnResponse: route.routeKey !== '$connect' && route.routeKey !== '$disconnect',
      });
      acknowledge(r, {
        id: 'AwsSolutions-APIG4',
        reason:
          'Clients authenticate per session: the open action binds the connection to a client id, verified with an HMAC signature from the application server when IM_SIGNATURE_REQUIRED is on; every other action requires that session. API Gateway authorizers cannot apply to message routes.',
      });
    }

    new CfnOutput(this, 'WebSocketUrl', { value: this.stage.url, description: 'Connect clients here' });
  }

  private routeFunction(route: RouteDef, environment: Record<string, string>): NodejsFunction {
    const env = { ...environment };
    for (const w of route.invokes ?? []) {
      const worker = this.workers.get(w);
      if (worker) env[workerEnvVar(w as WorkerName)] = worker.functionName;
    }
    if (route.verifiesSignatures && this.masterKeySecret) {
      env.IM_SIGNATURE_REQUIRED = 'true';
      env.IM_MASTER_KEY_SECRET_ARN = this.masterKeySecret.secretArn;
    }
    const fn = this.lambda(pascal(route.handler), route.handler, `IM route ${route.routeKey}`, env, Duration.seconds(29));
    if (route.verifiesSignatures && this.masterKeySecret) this.masterKeySecret.grantRead(fn);
    this.grantAccess(fn, route);
    for (const w of route.invokes ?? []) {
      const worker = this.workers.get(w);
      // The function itself only: grantInvoke would add every version and alias (`:*`).
      if (worker) fn.addToRolePolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [worker.functionArn] }));
    }
    if (route.postsToConnections) {
      const base = `arn:${this.partition}:execute-api:${this.region}:${this.account}:${this.api.apiId}/${this.stage.stageName}`;
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['execute-api:ManageConnections'],
          resources: [`${base}/POST/@connections/*`, `${base}/DELETE/@connections/*`],
        }),
      );
      for (const method of ['POST', 'DELETE']) {
        acknowledge(fn.role!, {
          id: this.nagFinding('AwsSolutions-IAM5', `${base}/${method}/@connections/*`),
          reason:
            'Connection ids are assigned by API Gateway at run time; the grant is limited to this API, this stage, and POST/DELETE on @connections.',
        });
      }
    }
    this.functions.set(route.routeKey, fn);
    return fn;
  }

  /**
   * Each function gets its own role that may write only to its own log group, instead of the
   * account-wide AWSLambdaBasicExecutionRole managed policy.
   */
  private lambda(
    name: string,
    handler: string,
    description: string,
    environment: Record<string, string>,
    timeout: Duration,
  ): NodejsFunction {
    const logGroup = new LogGroup(this, `${name}Logs`, { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new Role(this, `${name}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${description} (execution role)`,
    });
    role.addToPolicy(
      new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${logGroup.logGroupArn}`] }),
    );
    return new NodejsFunction(this, `${name}Function`, {
      role,
      entry: join(__dirname, '..', 'lambdas', `${handler}.ts`),
      handler: 'handler',
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout,
      description,
      environment,
      logGroup,
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node24',
        format: OutputFormat.CJS,
        // Prefer packages' ES module builds so esbuild can drop what a route does not import.
        mainFields: ['module', 'main'],
        // The Lambda runtime ships AWS SDK v3.
        externalModules: ['@aws-sdk/*'],
      },
    });
  }

  /**
   * cdk-nag names a wildcard finding after the resource as it renders it: references become
   * `<LogicalId>` / `<LogicalId.Attr>`, pseudo parameters `<AWS::Name>`. Acknowledging that exact
   * id keeps any other wildcard on the same role reportable.
   */
  private nagFinding(rule: string, arn: string, kind: 'Resource' | 'Policy' = 'Resource'): string {
    const render = (v: unknown): string => {
      if (typeof v === 'string') return v;
      const o = v as Record<string, unknown>;
      if (typeof o.Ref === 'string') return `<${o.Ref}>`;
      if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
      if (Array.isArray(o['Fn::Join'])) {
        const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
        return parts.map(render).join(sep);
      }
      return JSON.stringify(v);
    };
    return `${rule}[${kind}::${render(this.resolve(arn))}]`;
  }

  /** The account-level role API Gateway uses to write access logs to CloudWatch. */
  private apiGatewayLoggingRole(): void {
    const policy = ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs');
    const role = new Role(this, 'ApiGatewayLogsRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [policy],
    });
    acknowledge(role, {
      id: this.nagFinding('AwsSolutions-IAM4', policy.managedPolicyArn, 'Policy'),
      reason: 'AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for the API Gateway account logging role.',
    });
    const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    this.stage.node.addDependency(account);
  }

  /** DynamoDB and SNS permissions exactly as the route table declares them. */
  private grantAccess(fn: NodejsFunction, def: Pick<RouteDef, 'tables' | 'indexes' | 'scans' | 'sns'>): void {
    for (const [table, access] of Object.entries(def.tables) as [TableName, Access][]) {
      const arn = this.tables[table].tableArn;
      const indexArns = (def.indexes ?? []).filter((i) => i.startsWith(`${table}.`)).map((i) => `${arn}/index/${i.split('.')[1]}`);
      fn.addToRolePolicy(new PolicyStatement({ actions: actionsFor(access), resources: [arn] }));
      if (indexArns.length > 0) fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: indexArns }));
    }
    for (const table of def.scans ?? []) {
      fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Scan'], resources: [this.tables[table].tableArn] }));
    }
    const apps = this.pushApplications;
    if (!def.sns?.length || apps.length === 0) return;
    const onApps = def.sns.filter((a) => a === 'CreatePlatformEndpoint');
    const onEndpoints = def.sns.filter((a) => a !== 'CreatePlatformEndpoint');
    if (onApps.length > 0) fn.addToRolePolicy(new PolicyStatement({ actions: onApps.map((a) => `sns:${a}`), resources: apps }));
    if (onEndpoints.length > 0) {
      fn.addToRolePolicy(new PolicyStatement({ actions: onEndpoints.map((a) => `sns:${a}`), resources: apps.map(endpointArnPattern) }));
      for (const pattern of apps.map(endpointArnPattern)) {
        acknowledge(fn.role!, {
          id: this.nagFinding('AwsSolutions-IAM5', pattern),
          reason:
            'SNS creates platform endpoints at run time with generated ids; the grant is limited to the endpoints of the configured platform applications.',
        });
      }
    }
  }
}

/** Acknowledges a cdk-nag finding on a construct and everything under it, with the reason. */
function acknowledge(scope: IConstruct, rule: { id: string; reason: string }): void {
  Validations.of(scope).acknowledge(rule);
}

/** `arn:aws:sns:r:a:app/APNS/name` → `arn:aws:sns:r:a:endpoint/APNS/name/*` (the application's endpoints). */
export function endpointArnPattern(appArn: string): string {
  const m = /^(arn:[^:]+:sns:[^:]*:[^:]*:)app\/([^/]+)\/(.+)$/.exec(appArn);
  if (!m) throw new Error(`not an SNS platform application ARN: ${appArn}`);
  return `${m[1]}endpoint/${m[2]}/${m[3]}/*`;
}
