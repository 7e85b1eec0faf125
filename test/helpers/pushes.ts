/** The local SNS endpoint's record of what was published, as push tests read it. */
import type { StackHandle } from './stack';

/** Everything published since the last call, once all background work (workers) finished. */
export async function takePushes<P>(h: StackHandle): Promise<P[]> {
  await h.stack.gateway.drain();
  const res = await fetch(`http://127.0.0.1:${h.stack.port}/_local/pushes`);
  const list = (await res.json()) as P[];
  await fetch(`http://127.0.0.1:${h.stack.port}/_local/pushes`, { method: 'DELETE' });
  return list;
}
