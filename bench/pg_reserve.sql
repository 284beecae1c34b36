-- The PostgreSQL peer of stockgrid's stock.reserve, for bench/compare, as a
-- pgbench script: take 1 unit of a random record from `available` into
-- `reserved`, refused (0 rows) when there is not enough. One statement, so
-- one implicit transaction and one commit per reserve.
--
--   pgbench -n -M prepared -D records=100000 -f bench/pg_reserve.sql ...
--   (-D records=1: every transaction on record 1, the hot record)
--
-- Table: stock(id int primary key, available bigint, reserved bigint), ids
-- 1..records. bench/compare builds its pipelined variant (-P > 1) from the
-- UPDATE line below; keep the statement on one line.
\set id random(1, :records)
UPDATE stock SET available = available - 1, reserved = reserved + 1 WHERE id = :id AND available >= 1 RETURNING available;
