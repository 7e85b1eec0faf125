/**
 * The backend as a reusable construct: a WebSocket API whose routes come from the route table,
 * one Lambda per route with IAM limited to what the table says it touches, and the DynamoDB
 * tables from lib/tables.ts. `ImStack` (lib/im-stack.ts) deploys it on its own; an app of
 * yours can place it in any stack: `new ImBackend(myStack, 'Chat', { appId: 'my-app' })`.
 */
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { LogGroupLogDestination, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, type IConstruct } from 'constructs';
import { DYNAMODB_ACTIONS, ROUTES, WORKERS, workerEnvVar, type Access, type RouteDef, type WorkerName } from './routes';
import { TABLES, TABLE_NAMES, tableEnvVar, type TableDef, type TableName } from './tables';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface ImBackendProps {
  /**
   * The application id clients sign with (docs/protocol.md §12) and LeanCloud SDKs send.
   * @default 'local-app'
   */
  readonly appId?: string;
  /**
   * The WebSocket API's stage.
   * @default 'prod'
   */
  readonly stageName?: string;
  /**
   * SNS platform application ARNs for APNs (production and sandbox). Without any, the backend
   * deploys with push off: no push worker, no SNS permissions.
   * @default - push off
   */
  readonly push?: { readonly apnsPlatformArn?: string; readonly apnsSandboxPlatformArn?: string };
  /**
   * Require docs/protocol.md §12 signatures. The master key lives in Secrets Manager: the secret
   * named by `masterKeySecretArn`, else one the construct generates. Read once per container.
   * @default - signatures off
   */
  readonly signatures?: { readonly required: boolean; readonly masterKeySecretArn?: string };
  /**
   * Stage-wide throttling of client frames (API Gateway's steady rate per second and burst).
   * @default { rateLimit: 1000, burstLimit: 2000 }
   */
  readonly throttle?: { readonly rateLimit?: number; readonly burstLimit?: number };
  /**
   * Access logs need API Gateway's account-level CloudWatch role in this region. The construct
   * sets it (AWS::ApiGateway::Account) unless this is false because the account already has one.
   * @default true
   */
  readonly apiGatewayAccountRole?: boolean;
  /**
   * Largest message `data`, in UTF-8 bytes.
   * @default 5120
   */
  readonly maxMessageBytes?: number;
  /**
   * Alert text of push notifications when a send gives none.
   * @default '您有新的消息'
   */
  readonly pushAlert?: string;
  /**
   * Who may kick members: only the conversation's creator, or any member.
   * @default 'creator'
   */
  readonly kickPolicy?: 'creator' | 'member';
  /**
   * Function log level.
   * @default 'info'
   */
  readonly logLevel?: LogLevel;
  /**
   * Requests per client per 10 s: `send`, and every other limited action; `open`s per client and
   * connection per 10 s; 0 turns a limit off.
   * @default { sendPer10s: 50, otherPer10s: 100, openPer10s: 30 }
   */
  readonly rateLimits?: { readonly sendPer10s?: number; readonly otherPer10s?: number; readonly openPer10s?: number };
  /**
   * Most conversations one `find` may read before answering 4310.
   * @default 1000
   */
  readonly findMaxCandidates?: number;
}

/** The function environment for the typed settings (lambdas/runtime/config.ts reads these names). */
export function settingsEnvironment(props: ImBackendProps): Record<string, string> {
  const entries: [string, string | number | undefined][] = [
    ['IM_APP_ID', props.appId],
    ['IM_MAX_MESSAGE_BYTES', props.maxMessageBytes],
    ['IM_PUSH_ALERT', props.pushAlert],
    ['IM_KICK_POLICY', props.kickPolicy],
    ['IM_LOG_LEVEL', props.logLevel],
    ['IM_RATE_SEND_PER_10S', props.rateLimits?.sendPer10s],
    ['IM_RATE_OTHER_PER_10S', props.rateLimits?.otherPer10s],
    ['IM_RATE_OPEN_PER_10S', props.rateLimits?.openPer10s],
    ['IM_FIND_MAX_CANDIDATES', props.findMaxCandidates],
  ];
  // 0 turns a rate limit off; sizes and bounds must be positive.
  const positive = new Set(['IM_MAX_MESSAGE_BYTES', 'IM_FIND_MAX_CANDIDATES']);
  for (const [name, value] of entries) {
    if (typeof value !== 'number') continue;
    const least = positive.has(name) ? 1 : 0;
    if (!(Number.isInteger(value) && value >= least)) throw new Error(`${name}: ${value} is not a whole number ≥ ${least}`);
  }
  return Object.fromEntries(entries.filter((e): e is [string, string | number] => e[1] !== undefined).map(([k, v]) => [k, String(v)]));
}

export function actionsFor(access: Access): string[] {
  return [...(access.includes('r') ? DYNAMODB_ACTIONS.r : []), ...(access.includes('w') ? DYNAMODB_ACTIONS.w : [])].map(
    (a) => `dynamodb:${a}`,
  );
}

const pascal = (s: string) => s.replace(/^\$/, '').replace(/(^|[-_])(\w)/g, (_, __, c: string) => c.toUpperCase());

export class ImBackend extends Construct {
  /** The DynamoDB tables, by their name in lib/tables.ts. */
  public readonly tables: Readonly<Record<TableName, TableV2>>;
  public readonly api: WebSocketApi;
  public readonly stage: WebSocketStage;
  /** One function per route, by route key. */
  public readonly functions: ReadonlyMap<string, NodejsFunction>;
  /** The workers deployed (the push worker only with push on), by name. */
  public readonly workers: ReadonlyMap<string, NodejsFunction>;
  /** Present when signatures are required. */
  public readonly masterKeySecret?: ISecret;
  /** The `wss://` URL clients connect to. */
  public readonly url: string;
  private readonly routeFunctions = new Map<string, NodejsFunction>();
  private readonly workerFunctions = new Map<string, NodejsFunction>();
  private readonly pushApplications: string[];

  constructor(scope: Construct, id: string, props: ImBackendProps = {}) {
    super(scope, id);
    this.functions = this.routeFunctions;
    this.workers = this.workerFunctions;
    const stack = Stack.of(this);
    const environmentSettings = settingsEnvironment(props);

    const tables = {} as Record<TableName, TableV2>;
    for (const name of TABLE_NAMES) {
      const def: TableDef = TABLES[name];
      const key = (k: { name: string; type: 'S' | 'N' }) => ({
        name: k.name,
        type: k.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER,
      });
      tables[name] = new TableV2(this, `${pascal(name)}Table`, {
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

    this.tables = tables;
    this.api = new WebSocketApi(this, 'Api', {
      apiName: `${stack.stackName}-ws`,
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
      ...environmentSettings,
    };

    if (props.signatures?.required) {
      this.masterKeySecret = props.signatures.masterKeySecretArn
        ? Secret.fromSecretCompleteArn(this, 'MasterKey', props.signatures.masterKeySecretArn)
        : new Secret(this, 'MasterKey', {
            description:
              'IM master key: signs open/create/join/invite/kick (docs/protocol.md §12). Share it with your application server only.',
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
      this.workerFunctions.set(worker.name, fn);
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

    this.url = this.stage.url;
  }

  private routeFunction(route: RouteDef, environment: Record<string, string>): NodejsFunction {
    const env = { ...environment };
    for (const w of route.invokes ?? []) {
      const worker = this.workerFunctions.get(w);
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
      const worker = this.workerFunctions.get(w);
      // The function itself only: grantInvoke would add every version and alias (`:*`).
      if (worker) fn.addToRolePolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [worker.functionArn] }));
    }
    if (route.postsToConnections) {
      const { partition, region, account } = Stack.of(this);
      const base = `arn:${partition}:execute-api:${region}:${account}:${this.api.apiId}/${this.stage.stageName}`;
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
    this.routeFunctions.set(route.routeKey, fn);
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
      entry: join(__dirname, '..', 'lambdas', 'handlers', `${handler}.ts`),
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
    return `${rule}[${kind}::${render(Stack.of(this).resolve(arn))}]`;
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
