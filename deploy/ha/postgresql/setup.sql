-- On the primary, once: the role and database nonstop uses. Each instance creates its own schema
-- (engine.journal.schema_name) with its journal, fencing row and lease row on first start.
CREATE ROLE nonstop LOGIN PASSWORD 'CHANGE-ME';
CREATE DATABASE nonstop OWNER nonstop;
CREATE ROLE replicator REPLICATION LOGIN PASSWORD 'CHANGE-ME-TOO';
