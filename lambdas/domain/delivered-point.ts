/**
 * The delivered point: one number per member, below which every message has reached the member.
 * Acks arrive in any order (live messages overtake a login's backlog, concurrent sends overtake
 * each other), so an ack of message N moves the point only over seqs the member is known not to
 * be waiting for: acked ones, its own messages, and void seqs. Acks beyond a message still
 * unacked are remembered (bounded) and counted once the point reaches them. Pure: the I/O is in
 * receipts.ts.
 */

/** Acked seqs beyond the point that a member record remembers; more are simply delivered again. */
export const ACKED_AHEAD_MAX = 100;

/** Unacked seqs one ack examines (in one batched read) to pass the point over own or void ones. */
export const ACK_GAP_LOOKUP_MAX = 50;

/**
 * The seqs after `point` that are not acked, lowest first, up to the highest acked seq and at
 * most `max` of them: what must be looked up to know whether the point can pass them.
 */
export function gapsToExamine(point: number, acked: ReadonlySet<number>, max = ACK_GAP_LOOKUP_MAX): number[] {
  const top = Math.max(point, ...acked);
  const gaps: number[] = [];
  for (let s = point + 1; s <= top && gaps.length < max; s++) if (!acked.has(s)) gaps.push(s);
  return gaps;
}

/**
 * The new point, and the remembered acks to forget: those it now covers, and the highest ones
 * past the bound. `passable` holds the examined gaps the point may pass (own messages, void
 * seqs); any other gap stops it.
 */
export function advanceDeliveredPoint(
  point: number,
  acked: ReadonlySet<number>,
  passable: ReadonlySet<number>,
): { point: number; forget: number[] } {
  let p = point;
  while (acked.has(p + 1) || passable.has(p + 1)) p++;
  const sorted = [...acked].sort((a, b) => a - b);
  const beyond = sorted.filter((s) => s > p);
  return { point: p, forget: [...sorted.filter((s) => s <= p), ...beyond.slice(ACKED_AHEAD_MAX)] };
}

/**
 * Whether a settled seq stops the delivered point: a message from someone else that the member
 * has not acked. Void seqs (no sender), its own messages and its acks beyond the point do not.
 */
export function blocksPoint(at: { seq: number; from?: string }, clientId: string, acked: ReadonlySet<number> = new Set()): boolean {
  return at.from !== undefined && at.from !== clientId && !acked.has(at.seq);
}
