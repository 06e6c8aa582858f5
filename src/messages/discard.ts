import { statement, type Queryable } from '../db/statement.ts';

const DISCARD = statement(
  'messages.discard-failed-steps',
  `DELETE FROM messages m USING unnest($1::bigint[], $2::text[]) AS h(enrollment_id, step_id)
    WHERE m.enrollment_id = h.enrollment_id AND m.step_id = h.step_id AND m.status = 'failed' AND m.attempted_at IS NULL`,
);

/**
 * Removes the failed, never-attempted message of each held step, in the caller's transaction, so
 * that the step can be recorded again under the same idempotency key: the retry takes the place
 * of the failure, and the key still allows one message per step and person.
 */
export async function discardFailedSteps(db: Queryable, held: { enrollmentId: number; stepId: string }[]): Promise<void> {
  if (held.length === 0) return;
  await db.query(DISCARD, [held.map((h) => h.enrollmentId), held.map((h) => h.stepId)]);
}
