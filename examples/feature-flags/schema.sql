-- The feature-flags example: tenants, their flags, and the view the hub reads.
-- Portable SQL (SQLite, MySQL/MariaDB, PostgreSQL); see README.md for the differences.

CREATE TABLE tenants (
  tenant_id VARCHAR(40) NOT NULL PRIMARY KEY,
  active    INTEGER     NOT NULL DEFAULT 1,
  plan      VARCHAR(32)
);

-- One row per tenant that has any flag set; a tenant without a row has every flag off.
CREATE TABLE feature_flags (
  tenant_id    VARCHAR(40) NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
  ai_assistant INTEGER     NOT NULL DEFAULT 0,   -- 0/1
  ai_model     VARCHAR(64)                       -- NULL = small
);

-- LEFT JOIN + COALESCE: tenants without flags still get their stack, with the flags off.
CREATE VIEW tenant_features AS
SELECT t.tenant_id,
       t.active,
       t.plan,
       COALESCE(f.ai_assistant, 0) AS ai_assistant,
       f.ai_model
FROM tenants t
LEFT JOIN feature_flags f ON f.tenant_id = t.tenant_id;

INSERT INTO tenants VALUES ('acme',     1, 'enterprise');
INSERT INTO tenants VALUES ('globex',   1, 'pro');
INSERT INTO tenants VALUES ('initech',  1, NULL);
INSERT INTO tenants VALUES ('umbrella', 0, 'pro');

INSERT INTO feature_flags VALUES ('acme',     1, 'large');   -- flag on: gets the assistant
INSERT INTO feature_flags VALUES ('globex',   0, NULL);      -- flag off
INSERT INTO feature_flags VALUES ('umbrella', 1, NULL);      -- flag on, but the tenant is inactive
-- initech has no flags row at all: flag off
