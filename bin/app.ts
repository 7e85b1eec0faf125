/** CDK app: `npx cdk synth` / `npx cdk deploy`. Settings come from CDK context (-c key=value). */
import { App } from 'aws-cdk-lib';
import { ImStack } from '../lib/im-stack';

const app = new App();
const ctx = (k: string): string | undefined => app.node.tryGetContext(k) as string | undefined;

new ImStack(app, ctx('stackName') ?? 'ServerlessIm', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  stageName: ctx('stage'),
  push: { apnsPlatformArn: ctx('apnsPlatformArn'), apnsSandboxPlatformArn: ctx('apnsSandboxPlatformArn') },
  settings: {
    IM_APP_ID: ctx('appId'),
    IM_MAX_MESSAGE_BYTES: ctx('maxMessageBytes'),
    IM_PUSH_ALERT: ctx('pushAlert'),
    IM_KICK_POLICY: ctx('kickPolicy'),
    IM_LOG_LEVEL: ctx('logLevel'),
  },
});
