-- Two changes to what every task writes, measured on 20,000 one-step tasks
-- with one drone (pg_stat_user_tables, auto_explain's WAL counts).
--
-- events_by_task goes: every event with a task (two per task at least) put
-- an entry in it, and nothing reads by it but listEvents({ taskId }) without
-- a run, which no command, view or API route asks for. The SQLite schema
-- never had it; a task's events are found through events_by_run (the task's
-- run is known) or the primary key.
DROP INDEX events_by_task;

-- An attempt row is written twice: opened by the claim, ended by the
-- completion. At fillfactor 70 the claim's rows filled a page to 70%, and the
-- room left held the new versions of fewer than half of them: the other half
-- of the ends were not HOT and added an entry to both indexes (9,839 HOT of
-- 20,002). At 45 every end fits beside its row (20,002 of 20,002). Pages
-- written from now on are filled so; existing ones keep what they have.
ALTER TABLE attempts SET (fillfactor = 45);
