-- Farcaster schema, version 1.
-- Times are Unix epoch milliseconds (INTEGER). JSON is stored as TEXT.
-- State columns are closed sets: each CHECK mirrors a frozen constant in src/core/states.ts.

-- The runs row holds only small columns: every completion updates its counters,
-- and SQLite reads (and rewrites) the whole row to update one column, so a
-- large goal or workplan here would be walked on every completion.
CREATE TABLE runs (
  id               TEXT PRIMARY KEY,
  state            TEXT NOT NULL CHECK (state IN ('planning','awaiting_approval','running','succeeded','failed','cancelled')),
  tasks_total      INTEGER NOT NULL DEFAULT 0,
  tasks_open       INTEGER NOT NULL DEFAULT 0, -- tasks not yet terminal; the run ends when it reaches 0
  tasks_failed     INTEGER NOT NULL DEFAULT 0, -- failed or skipped
  source           TEXT,                      -- the goal file or trigger it came from
  cwd              TEXT,                      -- working directory for its tasks
  idempotency_key  TEXT UNIQUE,               -- a retried trigger finds the same run
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  finished_at      INTEGER
);
CREATE INDEX runs_created ON runs (created_at);

-- What a run is for and how: written when the run is created or planned, read for display.
CREATE TABLE run_plans (
  run_id           TEXT PRIMARY KEY REFERENCES runs (id),
  goal             TEXT NOT NULL,             -- may be a whole goal file
  workplan         TEXT                       -- the validated workplan (JSON), NULL while planning
);

CREATE TABLE tasks (
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
  fail_reason      TEXT CHECK (fail_reason IN ('error','non_retryable','timeout','recovery_limit','exhausted')),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  feedback         TEXT,                       -- JSON array of gate rejections the next attempt must act on
  waiting_for      TEXT,                       -- the signal a waiting task waits for (ctx.waitForEvent)
  UNIQUE (run_id, key),
  CHECK ((state = 'running') = (attempt_id IS NOT NULL))
);
-- The claim's two lookups, each a partial index so it only holds the rows it serves.
CREATE INDEX tasks_claimable ON tasks (priority DESC, available_at, id) WHERE state = 'ready';
CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE state = 'running';
CREATE INDEX tasks_sleeping ON tasks (available_at) WHERE state = 'waiting';
CREATE INDEX tasks_waiting_for ON tasks (waiting_for) WHERE state = 'waiting';

CREATE TABLE task_deps (
  task_id    INTEGER NOT NULL REFERENCES tasks (id),  -- the dependent
  depends_on INTEGER NOT NULL REFERENCES tasks (id),  -- must succeed first
  PRIMARY KEY (depends_on, task_id)
) WITHOUT ROWID;
CREATE INDEX task_deps_by_task ON task_deps (task_id);

CREATE TABLE attempts (
  id           INTEGER PRIMARY KEY,  -- the fencing token
  task_id      INTEGER NOT NULL REFERENCES tasks (id),
  number       INTEGER NOT NULL,     -- 1 for the task's first attempt
  worker       TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('running','succeeded','failed','crashed','released','suspended','cancelled')),
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  ended_at     INTEGER,
  error        TEXT
);
CREATE INDEX attempts_by_task ON attempts (task_id, id);

-- The journal: one row per step of a task, shared by all its attempts.
CREATE TABLE steps (
  task_id     INTEGER NOT NULL REFERENCES tasks (id),
  key         TEXT NOT NULL,     -- name, name#2, ...
  seq         INTEGER NOT NULL,  -- order within the task
  kind        TEXT NOT NULL,     -- step, sleep, now, random, uuid, approval, event
  attempt_id  INTEGER NOT NULL REFERENCES attempts (id),
  status      TEXT NOT NULL CHECK (status IN ('completed','failed','waiting')),
  input       TEXT,
  output      TEXT,
  error       TEXT,
  started_at  INTEGER NOT NULL,
  ended_at    INTEGER,
  PRIMARY KEY (task_id, key)
) WITHOUT ROWID;

CREATE TABLE gates (
  id          TEXT PRIMARY KEY,
  run_id      TEXT NOT NULL REFERENCES runs (id),
  task_id     INTEGER REFERENCES tasks (id),
  step_key    TEXT,
  question    TEXT NOT NULL,
  evidence    TEXT,              -- JSON
  subject_hash TEXT,             -- hash of what is being approved
  asked_by    TEXT,
  state       TEXT NOT NULL CHECK (state IN ('pending','approved','rejected','expired')),
  decided_by  TEXT,
  decided_at  INTEGER,
  reason      TEXT,
  action      TEXT CHECK (action IN ('retry','fail')),
  timeout_at  INTEGER,
  on_timeout  TEXT NOT NULL DEFAULT 'fail' CHECK (on_timeout IN ('fail','escalate')),
  overdue_at  INTEGER,           -- set when an escalating gate passed its timeout
  created_at  INTEGER NOT NULL
);
CREATE INDEX gates_pending ON gates (created_at) WHERE state = 'pending';
CREATE INDEX gates_by_task ON gates (task_id);
-- Pending gates whose timeout has yet to be handled: the claim sweeps them.
CREATE INDEX gates_timeouts ON gates (timeout_at) WHERE state = 'pending' AND timeout_at IS NOT NULL AND overdue_at IS NULL;

-- Output of running tasks (a shell command's stdout and stderr), for `farcaster logs` and the dashboard.
CREATE TABLE task_logs (
  id          INTEGER PRIMARY KEY,
  task_id     INTEGER NOT NULL REFERENCES tasks (id),
  attempt_id  INTEGER NOT NULL,
  at          INTEGER NOT NULL,
  stream      TEXT NOT NULL CHECK (stream IN ('stdout','stderr','info')),
  text        TEXT NOT NULL
);
CREATE INDEX task_logs_by_task ON task_logs (task_id, id);

-- Append-only log of every transition. Ids only grow, so they double as stream cursors.
CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  type        TEXT NOT NULL,
  actor       TEXT NOT NULL,
  run_id      TEXT,
  task_id     INTEGER,
  attempt_id  INTEGER,
  data        TEXT
);
CREATE INDEX events_by_run ON events (run_id, id);

-- Named facts a task can wait for; the first write wins.
CREATE TABLE signals (
  name        TEXT PRIMARY KEY,
  data        TEXT,
  emitted_by  TEXT NOT NULL,
  emitted_at  INTEGER NOT NULL
);

CREATE TABLE schedules (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  cron        TEXT NOT NULL,
  timezone    TEXT NOT NULL DEFAULT 'UTC',
  target_kind TEXT NOT NULL CHECK (target_kind IN ('goal_file','goal_text','workplan')),
  target      TEXT NOT NULL,
  cwd         TEXT,              -- working directory of the runs it creates
  overlap     TEXT NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip','allow','cancel-previous')),
  catch_up    TEXT NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest','all','none')),
  enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0,1)),
  last_slot   INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

-- One row per (schedule, slot): the unique key makes any number of schedulers fire a slot once.
CREATE TABLE schedule_fires (
  schedule_id TEXT NOT NULL REFERENCES schedules (id),
  slot        INTEGER NOT NULL,
  run_id      TEXT REFERENCES runs (id),
  outcome     TEXT NOT NULL CHECK (outcome IN ('fired','skipped','failed')),
  detail      TEXT,              -- why it was skipped or failed
  at          INTEGER NOT NULL,
  PRIMARY KEY (schedule_id, slot)
) WITHOUT ROWID;
