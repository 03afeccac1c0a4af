-- Model usage of steps a rejection threw away. A gate rejected with action
-- "retry" clears the task's journal so the work is redone, but what its model
-- turns spent stays spent: it is added here before the steps are deleted, and
-- the run's usage is the journal's plus this.
ALTER TABLE tasks ADD COLUMN spent_turns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN spent_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN spent_output_tokens INTEGER NOT NULL DEFAULT 0;
