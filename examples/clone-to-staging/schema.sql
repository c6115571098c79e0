-- The clone-to-staging example (SQLite, PostgreSQL): production tenants, then one INSERT ... SELECT
-- that clones some of them to staging. MySQL/MariaDB concatenates with CONCAT(); see README.md.

CREATE TABLE tenants (
  tenant_id   VARCHAR(40)  NOT NULL PRIMARY KEY,
  active      INTEGER      NOT NULL DEFAULT 1,
  environment VARCHAR(16)  NOT NULL DEFAULT 'production',
  cloned_from VARCHAR(40),                                   -- NULL for production rows
  domain      VARCHAR(255),
  plan        VARCHAR(32),
  replicas    INTEGER,
  image       VARCHAR(255) NOT NULL
);

INSERT INTO tenants (tenant_id, domain, plan, replicas, image)
VALUES ('acme',   'acme.example.com',   'enterprise', 4, 'ghcr.io/example/shop:1.4.2');
INSERT INTO tenants (tenant_id, domain, plan, replicas, image)
VALUES ('globex', 'globex.example.com', 'pro',        2, 'ghcr.io/example/shop:1.4.2');
INSERT INTO tenants (tenant_id, domain, plan, replicas, image)
VALUES ('initech', NULL,                'basic',      1, 'ghcr.io/example/shop:1.3.9');

-- The clone: a staging copy of every production tenant on the enterprise plan, with one
-- replica, its own domain, and the staging label. The next sync commits one new node per
-- cloned row; nothing of production changes.
INSERT INTO tenants (tenant_id, active, environment, cloned_from, domain, plan, replicas, image)
SELECT tenant_id || '-staging',
       1,
       'staging',
       tenant_id,
       'staging.' || domain,
       plan,
       1,
       image
FROM tenants
WHERE environment = 'production'
  AND plan = 'enterprise';
