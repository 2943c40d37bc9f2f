-- import_present: which of the room ids $1 (a JSON array of strings) are
-- here already (import-redis --dry-run counts what it would import).
SELECT r.id
  FROM rooms r
 WHERE r.id IN (SELECT jsonb_array_elements_text($1::jsonb));
