/**
 * Unread counts, derived from the conversation's sequence numbers and the member's read
 * point: no write per member per message. Own messages are not unread, so counting reads the
 * messages after the read point (newest first, bounded).
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll } from '../adapters/dynamo';
import { mapLimit } from './concurrency';
import type { MemberRecord } from './conversation-store';
import { messageView, type MessageRecord, type MessageView } from './messages';
import type { Ctx } from './route';

/** Counts above this are reported as this number (clients show "99+" long before). */
export const UNREAD_COUNT_CAP = 1000;

export interface UnreadEntry {
  cid: string;
  unread: number;
  lastMessage: MessageView | null;
}

export async function unreadSummary(ctx: Ctx, clientId: string, memberships: Pick<MemberRecord, 'cid' | 'readSeq'>[]): Promise<UnreadEntry[]> {
  const { db, config } = ctx.deps;
  if (memberships.length === 0) return [];
  const convs = await batchGetAll(db, config.tables.conversations, memberships.map((m) => ({ cid: m.cid })), {
    projection: 'cid, lastSeq',
  });
  const lastSeq = new Map(convs.map((c) => [c.cid as string, (c.lastSeq as number) ?? 0]));
  const candidates = memberships.filter((m) => (lastSeq.get(m.cid) ?? 0) > m.readSeq);
  const entries = await mapLimit(candidates, 8, async (m): Promise<UnreadEntry> => {
    const res = await db.send(
      new QueryCommand({
        TableName: config.tables.messages,
        KeyConditionExpression: 'cid = :cid AND seq > :s',
        ExpressionAttributeValues: { ':cid': m.cid, ':s': m.readSeq },
        ScanIndexForward: false,
        Limit: UNREAD_COUNT_CAP,
      }),
    );
    const items = (res.Items ?? []) as unknown as MessageRecord[];
    return {
      cid: m.cid,
      unread: items.filter((i) => i.from !== clientId).length,
      lastMessage: items[0] ? messageView(items[0]) : null,
    };
  });
  return entries.filter((e) => e.unread > 0);
}
