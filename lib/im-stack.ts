/**
 * The stack `npx cdk deploy` creates (bin/app.ts): the backend construct and its outputs. To put
 * the backend into a stack of your own, use `ImBackend` (lib/im-backend.ts) instead.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ImBackend, type ImBackendProps } from './im-backend';

export interface ImStackProps extends StackProps, ImBackendProps {}

export class ImStack extends Stack {
  public readonly backend: ImBackend;

  constructor(scope: Construct, id: string, props: ImStackProps = {}) {
    super(scope, id, props);
    // The id `Default` keeps the logical ids of stacks deployed before the construct existed.
    this.backend = new ImBackend(this, 'Default', props);
    new CfnOutput(this, 'WebSocketUrl', { value: this.backend.url, description: 'Connect clients here' });
  }
}
