-- The claim takes each named workflow's best ready tasks through
-- tasks_ready_by_workflow (claims.ts). PostgreSQL may as well walk
-- tasks_claimable and filter by workflow, and chooses so once an ANALYZE
-- has seen the ready tasks all of one workflow: it then expects any name to
-- match every row, so that a workflow with no ready tasks costs no more than
-- one with many. It costs the whole ready set, for each such workflow in
-- every claim (a drone names all its workflows): 22 ms instead of 0.4 for a
-- claim of 128 among 20,000 ready tasks of one workflow, with three names
-- that had none. Telling the planner the column has many distinct values
-- keeps a name selective in its eyes whatever the sample held.
--
-- A database that has tasks is analyzed at once, so the claim stops walking
-- now. An empty one has nothing to learn from: the first ANALYZE after its
-- first tasks (autovacuum's) applies the setting.
ALTER TABLE tasks ALTER COLUMN workflow SET (n_distinct = 100);
DO $$ BEGIN IF EXISTS (SELECT 1 FROM tasks) THEN ANALYZE tasks; END IF; END $$;
