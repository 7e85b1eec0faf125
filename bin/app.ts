/** CDK app: `npx cdk synth` / `npx cdk deploy`. Settings come from CDK context (-c key=value). */
import { App } from 'aws-cdk-lib';
import { ImStack } from '../lib/im-stack';

const app = new App();
const ctx = (k: string): string | undefined => app.node.tryGetContext(k) as string | undefined;
const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

new ImStack(app, ctx('stackName') ?? 'ServerlessIm', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  stageName: ctx('stage'),
  push: { apnsPlatformArn: ctx('apnsPlatformArn'), apnsSandboxPlatformArn: ctx('apnsSandboxPlatformArn') },
  signatures: { required: String(ctx('signatureRequired')) === 'true', masterKeySecretArn: ctx('masterKeySecretArn') },
  throttle: { rateLimit: num(ctx('stageRateLimit')), burstLimit: num(ctx('stageBurstLimit')) },
  apiGatewayAccountRole: ctx('apiGatewayAccountRole') === undefined ? undefined : String(ctx('apiGatewayAccountRole')) !== 'false',
  settings: {
    IM_APP_ID: ctx('appId'),
    IM_MAX_MESSAGE_BYTES: ctx('maxMessageBytes'),
    IM_PUSH_ALERT: ctx('pushAlert'),
    IM_KICK_POLICY: ctx('kickPolicy'),
    IM_LOG_LEVEL: ctx('logLevel'),
    IM_RATE_SEND_PER_10S: ctx('rateSendPer10s'),
    IM_RATE_OTHER_PER_10S: ctx('rateOtherPer10s'),
    IM_FIND_MAX_CANDIDATES: ctx('findMaxCandidates'),
  },
});
