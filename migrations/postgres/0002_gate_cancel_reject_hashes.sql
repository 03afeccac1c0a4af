-- Gates a cancelled run closes ('cancelled'), tasks failed by a person's
-- rejection ('rejected'), gates that hold a schedule rather than a run's task
-- (a frozen plan a person approves before the schedule runs it), and the
-- content hashes that bind an approval, or a run, to what it was made from.
-- The same change as SQLite's 0005; PostgreSQL alters CHECKs in place.

ALTER TABLE tasks DROP CONSTRAINT tasks_fail_reason_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_fail_reason_check
  CHECK (fail_reason IN ('error','non_retryable','timeout','recovery_limit','exhausted','rejected'));

ALTER TABLE gates DROP CONSTRAINT gates_state_check;
ALTER TABLE gates ADD CONSTRAINT gates_state_check CHECK (state IN ('pending','approved','rejected','expired','cancelled'));
ALTER TABLE gates ALTER COLUMN run_id DROP NOT NULL;  -- NULL: a schedule's gate
ALTER TABLE gates ADD COLUMN schedule_id text REFERENCES schedules (id);
ALTER TABLE gates ADD CONSTRAINT gates_run_or_schedule CHECK ((run_id IS NULL) = (schedule_id IS NOT NULL));
CREATE INDEX gates_by_schedule ON gates (schedule_id) WHERE schedule_id IS NOT NULL;

-- The content a run was planned from (a goal file's text), to tell a changed goal file from its unfinished run.
ALTER TABLE runs ADD COLUMN source_hash text;

-- A frozen plan written by a model runs only once approved: the hash to approve, and the hash approved.
ALTER TABLE schedules ADD COLUMN approval_hash text;
ALTER TABLE schedules ADD COLUMN approved_hash text;
