/**
 * Offline push (docs/protocol.md §11): after a message's fan-out, the members with no live
 * connection who have not muted the conversation are handed to the push worker, which
 * publishes one APNs notification per registered device through SNS.
 */
import { mapLimit } from './concurrency';
import { membershipsOf } from '../stores/members';
import { deleteEndpoint, ownedDevices, type DeviceEntry } from './devices';
import { devicesOf, removeDevice, type Device } from '../stores/devices';
import { alertFor, buildApnsPayload, snsMessage } from './push-payload';
import type { Ctx, PublishOutcome } from './context';
import { unreadCounts } from './offline';

export interface PushJob {
  cid: string;
  messageId: string;
  from: string;
  pushData?: Record<string, unknown>;
  recipients: string[];
}

/** A recipient's badge: total unread over its conversations that are not muted. */
export async function totalUnread(ctx: Ctx, clientId: string): Promise<number> {
  const memberships = (await membershipsOf(ctx, clientId)).filter((m) => !m.muted);
  return (await unreadCounts(ctx, clientId, memberships)).reduce((sum, e) => sum + e.unread, 0);
}

/** Hands the job to the push worker (asynchronously); failures are logged, never surfaced to the sender. */
export async function schedulePush(ctx: Ctx, job: PushJob): Promise<void> {
  if (job.recipients.length === 0 || !ctx.deps.push) return;
  try {
    await ctx.deps.invokeWorker('push', job);
  } catch (err) {
    ctx.log.error('could not start the push worker', { err, cid: job.cid, messageId: job.messageId });
  }
}

/** The worker: one Publish per device of each recipient that still owns the device's token. */
export async function runPushJob(ctx: Ctx, job: PushJob): Promise<{ published: number }> {
  const push = ctx.deps.push;
  if (!push) return { published: 0 };
  const devices = await devicesOf(ctx, job.recipients);
  const all = [...devices].flatMap(([clientId, byKey]) =>
    Object.entries(byKey).map(([key, device]): DeviceEntry => ({ clientId, key, device })),
  );
  const owns = await ownedDevices(ctx, all);
  let published = 0;
  await mapLimit([...devices.entries()], 8, async ([clientId, byKey]) => {
    const entries: [string, Device][] = [];
    for (const [key, device] of Object.entries(byKey)) {
      if (owns({ clientId, key, device })) {
        entries.push([key, device]);
        continue;
      }
      // The token moved to another client (or this one logged out) after this entry was
      // written: its endpoint may reach someone else's phone now, so it is neither published
      // to nor deleted, only dropped from this client.
      ctx.log.info('dropping a device whose token this client no longer owns', { clientId, endpoint: device.endpointArn });
      await removeDevice(ctx, clientId, key, { endpointArn: device.endpointArn, updatedAt: device.updatedAt });
    }
    if (entries.length === 0) return;
    const badge = await totalUnread(ctx, clientId);
    const payload = buildApnsPayload({
      alert: alertFor(job.pushData, ctx.deps.config.pushAlert),
      badge,
      cid: job.cid,
      messageId: job.messageId,
      pushData: job.pushData,
    });
    for (const [key, device] of entries) {
      let outcome: PublishOutcome;
      try {
        outcome = await push.publish(device.endpointArn, snsMessage(device.platform, payload));
      } catch (err) {
        ctx.log.warn('push publish failed', { err, clientId, endpoint: device.endpointArn });
        continue;
      }
      if (outcome.published) {
        published++;
        continue;
      }
      ctx.log.info('removing push endpoint SNS reports unusable', { clientId, endpoint: device.endpointArn, reason: outcome.gone });
      // An entry that changed since it was read was registered again: its endpoint stays.
      if (await removeDevice(ctx, clientId, key, { endpointArn: device.endpointArn, updatedAt: device.updatedAt }))
        await deleteEndpoint(ctx, device.endpointArn);
    }
  });
  return { published };
}
