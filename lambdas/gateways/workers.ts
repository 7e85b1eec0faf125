/**
 * Starting workers (lib/routes.ts WORKERS) on AWS: an asynchronous Lambda invoke of the function
 * the stack names in the worker's environment variable. The SDK is loaded and the client built
 * on the first invoke, so routes that never start a worker pay neither at cold start.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { workerEnvVar, type WorkerName } from '../../lib/routes';
import { Lazy } from './lazy';

type LambdaSdk = typeof import('@aws-sdk/client-lambda');

/** `Deps.invokeWorker` on Lambda: resolves once Lambda has queued the event, not when the worker ran. */
export function lambdaWorkers(env: Record<string, string | undefined>): (name: WorkerName, payload: object) => Promise<void> {
  const sdk = new Lazy<{ lambda: LambdaSdk; client: LambdaClient }>(() => {
    const lambda = require('@aws-sdk/client-lambda') as LambdaSdk;
    return { lambda, client: new lambda.LambdaClient({}) };
  });
  return async (name, payload) => {
    const fn = env[workerEnvVar(name)];
    if (!fn) throw new Error(`worker ${name} is not configured (${workerEnvVar(name)})`);
    const { lambda, client } = sdk.get();
    await client.send(
      new lambda.InvokeCommand({ FunctionName: fn, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }),
    );
  };
}
