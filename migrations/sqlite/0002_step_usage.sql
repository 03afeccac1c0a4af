-- Model usage as a generic record on the step that spent it (a model turn):
-- the store sums it for a run's budget without knowing which workflow or step
-- called a model. NULL: the step reported no usage.
ALTER TABLE steps ADD COLUMN usage_input_tokens INTEGER;
ALTER TABLE steps ADD COLUMN usage_output_tokens INTEGER;
