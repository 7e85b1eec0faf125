/** CDK app: `npx cdk synth` / `npx cdk deploy`. Settings come from CDK context (-c key=value). */
import { App } from 'aws-cdk-lib';
import { ImStack, type ImStackProps } from '../lib';

const app = new App();
const ctx = (k: string): string | undefined => app.node.tryGetContext(k) as string | undefined;
// Blank or null context values mean "not set" (the default applies), never 0, which would turn a limit off.
const num = (v: unknown): number | undefined => (v === undefined || v === null || String(v).trim() === '' ? undefined : Number(v));

new ImStack(app, ctx('stackName') ?? 'ServerlessIm', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  stageName: ctx('stage'),
  push: { apnsPlatformArn: ctx('apnsPlatformArn'), apnsSandboxPlatformArn: ctx('apnsSandboxPlatformArn') },
  signatures: { required: String(ctx('signatureRequired')) === 'true', masterKeySecretArn: ctx('masterKeySecretArn') },
  throttle: { rateLimit: num(ctx('stageRateLimit')), burstLimit: num(ctx('stageBurstLimit')) },
  apiGatewayAccountRole: ctx('apiGatewayAccountRole') === undefined ? undefined : String(ctx('apiGatewayAccountRole')) !== 'false',
  appId: ctx('appId'),
  maxMessageBytes: num(ctx('maxMessageBytes')),
  pushAlert: ctx('pushAlert'),
  kickPolicy: ctx('kickPolicy') as ImStackProps['kickPolicy'],
  logLevel: ctx('logLevel') as ImStackProps['logLevel'],
  rateLimits: { sendPer10s: num(ctx('rateSendPer10s')), otherPer10s: num(ctx('rateOtherPer10s')), openPer10s: num(ctx('rateOpenPer10s')) },
  findMaxCandidates: num(ctx('findMaxCandidates')),
});
