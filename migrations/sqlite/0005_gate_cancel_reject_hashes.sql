-- farcaster: foreign keys off
-- Gates a cancelled run closes ('cancelled'), tasks failed by a person's
-- rejection ('rejected'), gates that hold a schedule rather than a run's task
-- (a frozen plan a person approves before the schedule runs it), and the
-- content hashes that bind an approval, or a run, to what it was made from.
-- SQLite cannot change a CHECK in place: tasks and gates are rebuilt.

CREATE TABLE tasks_v5 (
  id               INTEGER PRIMARY KEY,        -- internal id; people use run id + key
  run_id           TEXT NOT NULL REFERENCES runs (id),
  key              TEXT NOT NULL,              -- the workplan's task id
  title            TEXT NOT NULL,
  description      TEXT,
  workflow         TEXT NOT NULL,
  input            TEXT NOT NULL,              -- JSON
  scope            TEXT,                       -- JSON {writes, commands}
  priority         INTEGER NOT NULL DEFAULT 0, -- higher runs first
  max_attempts     INTEGER NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
  timeout_ms       INTEGER,
  state            TEXT NOT NULL CHECK (state IN ('blocked','ready','running','waiting','succeeded','failed','cancelled','skipped')),
  pending_deps     INTEGER NOT NULL DEFAULT 0 CHECK (pending_deps >= 0),
  attempts         INTEGER NOT NULL DEFAULT 0, -- attempts started
  failures         INTEGER NOT NULL DEFAULT 0, -- attempts that ended in a workflow error
  crashes          INTEGER NOT NULL DEFAULT 0, -- attempts whose lease expired
  available_at     INTEGER NOT NULL,           -- ready: not before; waiting: wake-up time (or far future)
  attempt_id       INTEGER,                    -- the current lease's fencing token (state = running)
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  output           TEXT,                       -- JSON, on success
  error            TEXT,                       -- JSON {message, code?}, last failure
  fail_reason      TEXT CHECK (fail_reason IN ('error','non_retryable','timeout','recovery_limit','exhausted','rejected')),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  feedback         TEXT,                       -- JSON array of gate rejections the next attempt must act on
  waiting_for      TEXT,                       -- the signal a waiting task waits for (ctx.waitForEvent)
  spent_turns         INTEGER NOT NULL DEFAULT 0, -- model usage of journal entries a rejection cleared
  spent_input_tokens  INTEGER NOT NULL DEFAULT 0,
  spent_output_tokens INTEGER NOT NULL DEFAULT 0,
  UNIQUE (run_id, key),
  CHECK ((state = 'running') = (attempt_id IS NOT NULL))
);
INSERT INTO tasks_v5 (id, run_id, key, title, description, workflow, input, scope, priority, max_attempts, timeout_ms, state,
    pending_deps, attempts, failures, crashes, available_at, attempt_id, lease_owner, lease_expires_at, output, error, fail_reason,
    created_at, updated_at, started_at, finished_at, feedback, waiting_for, spent_turns, spent_input_tokens, spent_output_tokens)
  SELECT id, run_id, key, title, description, workflow, input, scope, priority, max_attempts, timeout_ms, state,
    pending_deps, attempts, failures, crashes, available_at, attempt_id, lease_owner, lease_expires_at, output, error, fail_reason,
    created_at, updated_at, started_at, finished_at, feedback, waiting_for, spent_turns, spent_input_tokens, spent_output_tokens
  FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_v5 RENAME TO tasks;
CREATE INDEX tasks_claimable ON tasks (priority DESC, available_at, id) WHERE state = 'ready';
CREATE INDEX tasks_ready_by_workflow ON tasks (workflow, priority DESC, available_at, id) WHERE state = 'ready';
CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE state = 'running';
CREATE INDEX tasks_sleeping ON tasks (available_at) WHERE state = 'waiting';
CREATE INDEX tasks_waiting_for ON tasks (waiting_for) WHERE state = 'waiting';

CREATE TABLE gates_v5 (
  id          TEXT PRIMARY KEY,
  run_id      TEXT REFERENCES runs (id),       -- the run of the task that asks (NULL: a schedule's gate)
  task_id     INTEGER REFERENCES tasks (id),
  schedule_id TEXT REFERENCES schedules (id),  -- a schedule held until a person approves its frozen plan
  step_key    TEXT,
  question    TEXT NOT NULL,
  evidence    TEXT,              -- JSON
  subject_hash TEXT,             -- hash of what is being approved
  asked_by    TEXT,
  state       TEXT NOT NULL CHECK (state IN ('pending','approved','rejected','expired','cancelled')),
  decided_by  TEXT,
  decided_at  INTEGER,
  reason      TEXT,
  action      TEXT CHECK (action IN ('retry','fail')),
  timeout_at  INTEGER,
  on_timeout  TEXT NOT NULL DEFAULT 'fail' CHECK (on_timeout IN ('fail','escalate')),
  overdue_at  INTEGER,           -- set when an escalating gate passed its timeout
  created_at  INTEGER NOT NULL,
  CHECK ((run_id IS NULL) = (schedule_id IS NOT NULL))
);
INSERT INTO gates_v5 (id, run_id, task_id, schedule_id, step_key, question, evidence, subject_hash, asked_by, state, decided_by, decided_at,
    reason, action, timeout_at, on_timeout, overdue_at, created_at)
  SELECT id, run_id, task_id, NULL, step_key, question, evidence, subject_hash, asked_by, state, decided_by, decided_at,
    reason, action, timeout_at, on_timeout, overdue_at, created_at
  FROM gates;
DROP TABLE gates;
ALTER TABLE gates_v5 RENAME TO gates;
CREATE INDEX gates_pending ON gates (created_at) WHERE state = 'pending';
CREATE INDEX gates_by_task ON gates (task_id);
CREATE INDEX gates_by_run ON gates (run_id);
CREATE INDEX gates_timeouts ON gates (timeout_at) WHERE state = 'pending' AND timeout_at IS NOT NULL AND overdue_at IS NULL;

-- The content a run was planned from (a goal file's text), to tell a changed goal file from its unfinished run.
ALTER TABLE runs ADD COLUMN source_hash TEXT;

-- A frozen plan written by a model runs only once approved: the hash to approve, and the hash approved.
ALTER TABLE schedules ADD COLUMN approval_hash TEXT;
ALTER TABLE schedules ADD COLUMN approved_hash TEXT;
