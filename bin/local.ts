/** `npm start`: the backend on this machine, no AWS account needed. */
import { resolve } from 'node:path';
import { startLocalStack } from '../local/stack';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(): Promise<void> {
  const dataDir = process.env.IM_DATA_DIR === ':memory:' ? ':memory:' : resolve(process.env.IM_DATA_DIR ?? '.data');
  const port = Number(process.env.PORT ?? 8080);
  const dynamoEndpoint = process.env.IM_DYNAMODB_ENDPOINT || undefined;
  const stack = await startLocalStack({ port, host: process.env.HOST ?? '127.0.0.1', dataDir, dynamoEndpoint });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: stopping\n`);
    await stack.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  const where = dynamoEndpoint ? `DynamoDB at ${dynamoEndpoint}` : dataDir === ':memory:' ? 'in memory' : dataDir;
  console.log(`IM backend ready: ${stack.url} (app ${stack.config.appId}, data ${where})`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
