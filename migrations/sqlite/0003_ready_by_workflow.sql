-- Claims by workflow: a drone claims each workflow with a concurrency limit
-- apart, and only workflows it knows. Without this index such a claim walks
-- the whole ready set in priority order looking for its workflow, so a
-- thousand ready tasks of another workflow made every claim slow.
CREATE INDEX tasks_ready_by_workflow ON tasks (workflow, priority DESC, available_at, id) WHERE state = 'ready';
