-- Farcaster schema for PostgreSQL, version 1: the tables of the SQLite schema
-- (migrations/sqlite 0001–0004) with the same columns and meanings.
-- Times are Unix epoch milliseconds (bigint). State columns are closed sets:
-- each CHECK mirrors a frozen constant in src/core/states.ts.
--
-- Foreign keys guard what is written rarely (a run's tasks and edges, gates,
-- fires). The rows written for every task and step (attempts, steps, output)
-- have none: PostgreSQL checks a foreign key by locking the row it points at,
-- a third of the cost of journaling a step, and these rows are only ever
-- written under the fence, which has just found that task and attempt; no
-- task or attempt is ever deleted.
--
-- JSON (inputs, outputs, errors, evidence, event data) is stored as text, as
-- the code wrote it, not as jsonb: jsonb reorders object keys and refuses
-- "\u0000", and a journaled output must read back exactly as it was recorded
-- (replay hands it to the workflow again). The few places that look inside
-- JSON cast it (::jsonb) where they read it.

-- Small, hot rows: every batch that closes tasks updates its run's counters.
-- fillfactor leaves room on the page so those updates stay HOT (no indexed
-- column changes), and the goal lives in run_plans.
CREATE TABLE runs (
  id               text PRIMARY KEY,
  state            text NOT NULL CHECK (state IN ('planning','awaiting_approval','running','succeeded','failed','cancelled')),
  tasks_total      integer NOT NULL DEFAULT 0,
  tasks_open       integer NOT NULL DEFAULT 0, -- tasks not yet terminal; the run ends when it reaches 0
  tasks_failed     integer NOT NULL DEFAULT 0, -- failed or skipped
  source           text,                       -- the goal file or trigger it came from
  cwd              text,                       -- working directory for its tasks
  idempotency_key  text UNIQUE,                -- a retried trigger finds the same run
  created_at       bigint NOT NULL,
  updated_at       bigint NOT NULL,
  finished_at      bigint
) WITH (fillfactor = 50);
CREATE INDEX runs_created ON runs (created_at);

CREATE TABLE run_plans (
  run_id           text PRIMARY KEY REFERENCES runs (id),
  goal             text NOT NULL,
  workplan         text                        -- the validated workplan (JSON), NULL while planning
);

CREATE TABLE tasks (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id           text NOT NULL REFERENCES runs (id),
  key              text NOT NULL,              -- the workplan's task id
  title            text NOT NULL,
  description      text,
  workflow         text NOT NULL,
  input            text NOT NULL,              -- JSON
  scope            text,                       -- JSON {writes, commands}
  priority         integer NOT NULL DEFAULT 0, -- higher runs first
  max_attempts     integer NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
  timeout_ms       bigint,
  state            text NOT NULL CHECK (state IN ('blocked','ready','running','waiting','succeeded','failed','cancelled','skipped')),
  pending_deps     integer NOT NULL DEFAULT 0 CHECK (pending_deps >= 0),
  attempts         integer NOT NULL DEFAULT 0, -- attempts started
  failures         integer NOT NULL DEFAULT 0, -- attempts that ended in a workflow error
  crashes          integer NOT NULL DEFAULT 0, -- attempts whose lease expired
  available_at     bigint NOT NULL,            -- ready: not before; waiting: wake-up time (or far future)
  attempt_id       bigint,                     -- the current lease's fencing token (state = running)
  lease_owner      text,
  lease_expires_at bigint,
  output           text,                       -- JSON, on success
  error            text,                       -- JSON {message, code?}, last failure
  fail_reason      text CHECK (fail_reason IN ('error','non_retryable','timeout','recovery_limit','exhausted')),
  created_at       bigint NOT NULL,
  updated_at       bigint NOT NULL,
  started_at       bigint,
  finished_at      bigint,
  feedback         text,                       -- JSON array of gate rejections the next attempt must act on
  waiting_for      text,                       -- the signal a waiting task waits for (ctx.waitForEvent)
  -- Model usage of steps a gate rejection (action retry) cleared from the journal: spent stays spent.
  spent_turns          integer NOT NULL DEFAULT 0,
  spent_input_tokens   bigint NOT NULL DEFAULT 0,
  spent_output_tokens  bigint NOT NULL DEFAULT 0,
  UNIQUE (run_id, key),
  CHECK ((state = 'running') = (attempt_id IS NOT NULL))
);
-- The claim's lookups, each a partial index holding only the rows it serves:
-- ready tasks in claim order (all workflows, and by workflow for a drone that
-- claims some workflows apart), leases by expiry, sleepers by wake-up time.
CREATE INDEX tasks_claimable ON tasks (priority DESC, available_at, id) WHERE state = 'ready';
CREATE INDEX tasks_ready_by_workflow ON tasks (workflow, priority DESC, available_at, id) WHERE state = 'ready';
CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE state = 'running';
CREATE INDEX tasks_sleeping ON tasks (available_at) WHERE state = 'waiting';
CREATE INDEX tasks_waiting_for ON tasks (waiting_for) WHERE state = 'waiting';

CREATE TABLE task_deps (
  task_id    bigint NOT NULL REFERENCES tasks (id),  -- the dependent
  depends_on bigint NOT NULL REFERENCES tasks (id),  -- must succeed first
  PRIMARY KEY (depends_on, task_id)
);
CREATE INDEX task_deps_by_task ON task_deps (task_id);

CREATE TABLE attempts (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the fencing token
  task_id      bigint NOT NULL,      -- tasks (id); see the top of this file
  number       integer NOT NULL,     -- 1 for the task's first attempt
  worker       text NOT NULL,
  state        text NOT NULL CHECK (state IN ('running','succeeded','failed','crashed','released','suspended','cancelled')),
  started_at   bigint NOT NULL,
  heartbeat_at bigint NOT NULL,
  ended_at     bigint,
  error        text
) WITH (fillfactor = 70); -- its end (state, ended_at: no index) updates in place (HOT)
CREATE INDEX attempts_by_task ON attempts (task_id, id);

-- The journal: one row per step of a task, shared by all its attempts.
CREATE TABLE steps (
  task_id     bigint NOT NULL,   -- tasks (id)
  key         text NOT NULL,     -- name, name#2, ...
  seq         integer NOT NULL,  -- order within the task
  kind        text NOT NULL,     -- step, sleep, now, random, uuid, approval, event
  attempt_id  bigint NOT NULL,   -- attempts (id)
  status      text NOT NULL CHECK (status IN ('completed','failed','waiting')),
  input       text,
  output      text,
  error       text,
  started_at  bigint NOT NULL,
  ended_at    bigint,
  usage_input_tokens  bigint,    -- NULL: the step reported no model usage
  usage_output_tokens bigint,
  PRIMARY KEY (task_id, key)
);

CREATE TABLE gates (
  id          text PRIMARY KEY,
  run_id      text NOT NULL REFERENCES runs (id),
  task_id     bigint REFERENCES tasks (id),
  step_key    text,
  question    text NOT NULL,
  evidence    text,              -- JSON
  subject_hash text,             -- hash of what is being approved
  asked_by    text,
  state       text NOT NULL CHECK (state IN ('pending','approved','rejected','expired')),
  decided_by  text,
  decided_at  bigint,
  reason      text,
  action      text CHECK (action IN ('retry','fail')),
  timeout_at  bigint,
  on_timeout  text NOT NULL DEFAULT 'fail' CHECK (on_timeout IN ('fail','escalate')),
  overdue_at  bigint,            -- set when an escalating gate passed its timeout
  created_at  bigint NOT NULL
);
CREATE INDEX gates_pending ON gates (created_at) WHERE state = 'pending';
CREATE INDEX gates_by_task ON gates (task_id);
CREATE INDEX gates_by_run ON gates (run_id, created_at);
CREATE INDEX gates_timeouts ON gates (timeout_at) WHERE state = 'pending' AND timeout_at IS NOT NULL AND overdue_at IS NULL;

CREATE TABLE task_logs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id     bigint NOT NULL,   -- tasks (id)
  attempt_id  bigint NOT NULL,
  at          bigint NOT NULL,
  stream      text NOT NULL CHECK (stream IN ('stdout','stderr','info')),
  text        text NOT NULL
);
CREATE INDEX task_logs_by_task ON task_logs (task_id, id);

-- Append-only log of every transition. Ids only grow, and become visible in
-- the order they were handed out: the store takes them under a lock held to
-- COMMIT (see src/store/postgres/events.ts), so a follower reading past its
-- cursor never skips an event that commits late.
CREATE TABLE events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          bigint NOT NULL,
  type        text NOT NULL,
  actor       text NOT NULL,
  run_id      text,
  task_id     bigint,
  attempt_id  bigint,
  data        text
);
CREATE INDEX events_by_run ON events (run_id, id);
CREATE INDEX events_by_task ON events (task_id, id) WHERE task_id IS NOT NULL;

CREATE TABLE signals (
  name        text PRIMARY KEY,
  data        text,
  emitted_by  text NOT NULL,
  emitted_at  bigint NOT NULL
);

CREATE TABLE schedules (
  id          text PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  cron        text NOT NULL,
  timezone    text NOT NULL DEFAULT 'UTC',
  target_kind text NOT NULL CHECK (target_kind IN ('goal_file','goal_text','workplan')),
  target      text NOT NULL,
  cwd         text,
  overlap     text NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip','allow','cancel-previous')),
  catch_up    text NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest','all','none')),
  enabled     boolean NOT NULL DEFAULT true,
  last_slot   bigint,
  created_at  bigint NOT NULL,
  updated_at  bigint NOT NULL
);

-- One row per (schedule, slot): the primary key makes any number of
-- schedulers, on any number of machines, fire a slot once.
CREATE TABLE schedule_fires (
  schedule_id text NOT NULL REFERENCES schedules (id),
  slot        bigint NOT NULL,
  run_id      text REFERENCES runs (id),
  outcome     text NOT NULL CHECK (outcome IN ('fired','skipped','failed')),
  detail      text,
  at          bigint NOT NULL,
  PRIMARY KEY (schedule_id, slot)
);
