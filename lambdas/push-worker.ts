/** Push worker: publishes a message's offline notifications (started asynchronously by `send`). */
import { runPushJob, type PushJob } from './core/push';
import { defineWorker } from './core/route';

export const { handle, handler } = defineWorker<PushJob>('push', runPushJob);
