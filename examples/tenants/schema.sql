-- The tenants example: one row per tenant, one row per plan, and the view the hub reads.
-- Portable SQL (SQLite, MySQL/MariaDB, PostgreSQL); see README.md for the differences.

CREATE TABLE plans (
  plan           VARCHAR(32) NOT NULL PRIMARY KEY,
  max_users      INTEGER     NOT NULL,
  storage_gb     INTEGER     NOT NULL,
  rate_limit_rps INTEGER     NOT NULL,
  cpu_limit      VARCHAR(16) NOT NULL,   -- Kubernetes quantities, e.g. 500m
  memory_limit   VARCHAR(16) NOT NULL    -- e.g. 512Mi
);

CREATE TABLE tenants (
  tenant_id VARCHAR(40)  NOT NULL PRIMARY KEY,   -- becomes names: lowercase, digits and '-'
  active    INTEGER      NOT NULL DEFAULT 1,     -- 1 = provisioned, 0 = torn down
  domain    VARCHAR(255),                        -- host, host:port or URL; NULL = no ingress
  plan      VARCHAR(32),                         -- NULL = basic
  replicas  INTEGER,                             -- NULL = 1
  region    VARCHAR(32)                          -- NULL = eu-west-1
);

-- What the hub reads: each tenant with its plan's settings. Changing a plan's row
-- reconfigures every tenant on that plan in one commit.
CREATE VIEW tenant_stacks AS
SELECT t.tenant_id,
       t.active,
       t.domain,
       p.plan,
       t.replicas,
       t.region,
       p.max_users,
       p.storage_gb,
       p.rate_limit_rps,
       p.cpu_limit,
       p.memory_limit
FROM tenants t
JOIN plans p ON p.plan = COALESCE(t.plan, 'basic');

INSERT INTO plans VALUES ('basic',      50,   5,   10, '250m', '256Mi');
INSERT INTO plans VALUES ('pro',        1000, 50,  100, '500m', '512Mi');
INSERT INTO plans VALUES ('enterprise', 10000, 500, 1000, '2',   '2Gi');

INSERT INTO tenants VALUES ('acme',    1, 'acme.example.com',                    'enterprise', 3,    'eu-west-1');
INSERT INTO tenants VALUES ('globex',  1, 'https://globex.example.com:8443/app', 'pro',        2,    'us-east-1');
INSERT INTO tenants VALUES ('initech', 1, NULL,                                  NULL,         NULL, NULL);
INSERT INTO tenants VALUES ('hooli',   0, 'hooli.example.com',                   'pro',        2,    'us-east-1');
