/**
 * Races around sessions (issue #12: no race undoes a rule): connection records written after
 * `$disconnect`. Each race runs for many rounds, since one round may happen to run in an order
 * that hides the bug.
 */
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { TestClient } from '../helpers/client';
import { useStack } from '../helpers/stack';

const h = useStack();

async function presenceOf(clientId: string): Promise<Record<string, { tag?: string; deviceId?: string }>> {
  const res = await h.stack.deps.db.send(
    new GetCommand({ TableName: h.stack.config.tables.presence, Key: { clientId }, ConsistentRead: true }),
  );
  return (res.Item?.conns ?? {}) as Record<string, { tag?: string; deviceId?: string }>;
}

let tokenN = 0;
const newToken = () => `${(++tokenN).toString(16).padStart(8, '0')}${'cd'.repeat(28)}`;

describe('connection records after $disconnect (item 10)', () => {
  test('a socket closed while its open runs leaves no record, and no record lacks its expiry', async () => {
    const bobs: string[] = [];
    const sockets: TestClient[] = [];
    for (let round = 0; round < 15; round++) {
      const [Bob, Amy] = h.names('Bob', 'Amy');
      bobs.push(Bob, Amy);
      // Closed right behind the open frame: $disconnect races the whole open.
      const early = await TestClient.connect(h.url);
      early.send({ action: 'open', id: 'o', clientId: Bob, deviceToken: newToken() });
      void early.close();
      // Closed as soon as the reply arrives: $disconnect races the open's follow-up.
      const late = await TestClient.connect(h.url);
      expect((await late.request('open', { clientId: Amy, deviceToken: newToken() })).ok).toBe(true);
      void late.close();
      sockets.push(early, late);
    }
    await Promise.all(sockets.map((s) => s.closed));
    await h.stack.gateway.drain();
    const items = (await h.stack.deps.db.send(new ScanCommand({ TableName: h.stack.config.tables.connections, ConsistentRead: true })))
      .Items!;
    expect(items.filter((i) => typeof i.expiresAt !== 'number')).toEqual([]);
    expect(items.filter((i) => bobs.includes(i.clientId as string))).toEqual([]);
    for (const id of bobs) expect(await presenceOf(id)).toEqual({});
  });
});
