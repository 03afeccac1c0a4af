/**
 * The journal's write, as both stores say it (SQLite and PostgreSQL accept
 * the same text): the columns of a step row, and the rule for a step already
 * there. A step recorded as waiting (a sleep, a gate) is completed by a later
 * write; a completed or failed step is a fact and is never overwritten.
 */
export const STEP_INSERT = `INSERT INTO steps (task_id, key, seq, kind, attempt_id, status, input, output, error, started_at, ended_at, usage_input_tokens, usage_output_tokens)`;

export const STEP_UPSERT = `ON CONFLICT (task_id, key) DO UPDATE SET
       attempt_id = excluded.attempt_id, status = excluded.status, output = excluded.output,
       error = excluded.error, ended_at = excluded.ended_at,
       usage_input_tokens = excluded.usage_input_tokens, usage_output_tokens = excluded.usage_output_tokens
     WHERE steps.status = 'waiting'`;
