/** Push worker: publishes a message's offline notifications (started asynchronously by `send`). */
import { runPushJob, type PushJob } from '../domain/push';
import { defineWorker } from '../runtime/route';

export const { handle, handler } = defineWorker<PushJob>('push', runPushJob);
