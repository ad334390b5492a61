-- Why a probe failed or what it saw, in words (connection refused, open timed
-- out, mean luminance 3.1): the status alone does not tell ops where to look.
ALTER TABLE camera_probes ADD COLUMN IF NOT EXISTS reason String DEFAULT '';
