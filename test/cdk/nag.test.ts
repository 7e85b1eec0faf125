/**
 * cdk-nag's AWS Solutions checks on the stack, with and without push: every finding is fixed
 * or acknowledged in lib/im-stack.ts with its reason, so synthesis must not report errors.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ImStack, type ImStackProps } from '../../lib/im-stack';

function synthWithNag(props: ImStackProps): void {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  new ImStack(app, 'NagIm', { env: { account: '123456789012', region: 'eu-west-1' }, ...props });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
}

test.each<[string, ImStackProps]>([
  ['push off', {}],
  [
    'push and signatures on',
    {
      push: {
        apnsPlatformArn: 'arn:aws:sns:eu-west-1:123456789012:app/APNS/x',
        apnsSandboxPlatformArn: 'arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/x',
      },
      signatures: { required: true },
    },
  ],
])('AwsSolutionsChecks pass (%s)', (_label, props) => {
  expect(() => synthWithNag(props)).not.toThrow();
});
