/**
 * The member limit and the seat accounting rule, pure. The member counter on the conversation
 * item is moved by conditional ADDs (stores/conversations.ts), so racing joins cannot pass the
 * limit together; domain/membership.ts runs the reads and writes these functions decide.
 *
 * The counter can only drift upwards (a writer that reserved seats and died before writing the
 * members never gives them back), so a "full" from it is checked against an exact count once:
 * if the seats fit the real membership, the counter is repaired and the reservation retried.
 */

export const MAX_MEMBERS = 500;

/**
 * The highest counter value at which `n` more seats still fit under `max`: the condition of the
 * counter's conditional ADD (`memberCount <= this`).
 */
export function highestCountAdmitting(n: number, max = MAX_MEMBERS): number {
  return max - n;
}

/** Whether `n` more members fit beside `count` members. */
export function seatsFit(count: number, n: number, max = MAX_MEMBERS): boolean {
  return count <= highestCountAdmitting(n, max);
}

/** What to do after the counter refused seats, given the exact member count. */
export type AfterRefusal =
  /** The seats do not fit the real membership either: the conversation is full. */
  | { kind: 'full' }
  /** They fit: the counter drifted; set it to `count` and try the reservation once more. */
  | { kind: 'repair'; count: number };

export function afterRefusal(actual: number, n: number, max = MAX_MEMBERS): AfterRefusal {
  return seatsFit(actual, n, max) ? { kind: 'repair', count: actual } : { kind: 'full' };
}

/**
 * The counter change that gives back the seats reserved for clients that were not written (a
 * racing join added them first): negative, or 0 when every reservation was used.
 */
export function unusedSeatsDelta(reserved: number, written: number): number {
  return written - reserved;
}
