-- The blue-green example: each tenant runs two versions; active_version says which one is live.
-- Portable SQL (SQLite, MySQL/MariaDB, PostgreSQL); see README.md for the differences.

CREATE TABLE tenants (
  tenant_id        VARCHAR(40)  NOT NULL PRIMARY KEY,
  active           INTEGER      NOT NULL DEFAULT 1,
  active_version   VARCHAR(5)   NOT NULL DEFAULT 'blue'
                   CHECK (active_version IN ('blue', 'green')),   -- a typo never reaches Git
  blue_image       VARCHAR(255) NOT NULL,
  green_image      VARCHAR(255) NOT NULL,
  replicas         INTEGER,     -- pods of the live colour; NULL = 2
  standby_replicas INTEGER      -- pods of the idle colour; NULL = same as replicas
);

-- acme is live on blue and has 1.5.0 staged on green, both at full size: ready to switch.
-- globex switched to green earlier and has since shrunk its idle blue to one pod.
INSERT INTO tenants VALUES ('acme',   1, 'blue',  'ghcr.io/example/shop:1.4.2', 'ghcr.io/example/shop:1.5.0', 3,    NULL);
INSERT INTO tenants VALUES ('globex', 1, 'green', 'ghcr.io/example/shop:1.4.2', 'ghcr.io/example/shop:1.5.0', NULL, 1);
