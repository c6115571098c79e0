-- The ephemeral-environments example (SQLite): preview environments with a time to live.
-- MySQL/MariaDB and PostgreSQL spell the time functions differently; see README.md.

CREATE TABLE preview_environments (
  env_id     VARCHAR(40)  NOT NULL PRIMARY KEY,   -- e.g. pr-1234: becomes names
  branch     VARCHAR(255) NOT NULL,
  image_tag  VARCHAR(128) NOT NULL,
  owner      VARCHAR(63),
  created_at TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
  expires_at TIMESTAMP                            -- UTC; NULL = never expires
);

-- What the hub reads: every environment, active while it has not expired. The clock lives
-- here, in SQL, not in templates: a row flips to inactive once, when its time is up, so each
-- expiry is one commit and nothing changes between expiries.
CREATE VIEW live_previews AS
SELECT env_id,
       branch,
       image_tag,
       owner,
       expires_at,
       CASE WHEN expires_at IS NULL OR expires_at > datetime('now') THEN 1 ELSE 0 END AS active
FROM preview_environments;

-- Times relative to now, so the example behaves the same whenever it is run.
INSERT INTO preview_environments (env_id, branch, image_tag, owner, expires_at)
VALUES ('main',   'main',               'main-4f2c1aa', 'platform', NULL);
INSERT INTO preview_environments (env_id, branch, image_tag, owner, expires_at)
VALUES ('pr-101', 'feature/checkout',   'pr-101-9b1e0c2', 'alice', datetime('now', '+3 days'));
INSERT INTO preview_environments (env_id, branch, image_tag, owner, expires_at)
VALUES ('pr-102', 'fix/currency-round', 'pr-102-51d7e88', 'bob',   datetime('now', '+1 day'));
INSERT INTO preview_environments (env_id, branch, image_tag, owner, expires_at)
VALUES ('pr-103', 'feature/search',     'pr-103-0aa93f1', 'carol', datetime('now', '+6 hours'));
-- Expired an hour ago: no stack is rendered for it.
INSERT INTO preview_environments (env_id, branch, image_tag, owner, expires_at)
VALUES ('pr-99',  'feature/old-banner', 'pr-99-77c0d3e',  'dave',  datetime('now', '-1 hour'));
