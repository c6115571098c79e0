-- The demo's tenants: two active, one inactive (active = 0), one without a domain.
CREATE TABLE tenants (
  tenant_id TEXT PRIMARY KEY,
  active    INTEGER NOT NULL DEFAULT 1,
  domain    TEXT,
  plan      TEXT,
  replicas  INTEGER
);
INSERT INTO tenants VALUES ('acme',    1, 'https://acme.example.com/shop', 'pro',   3);
INSERT INTO tenants VALUES ('globex',  1, 'globex.example.com:8443',       NULL,    NULL);
INSERT INTO tenants VALUES ('initech', 0, 'initech.example.com',           'basic', 1);
INSERT INTO tenants VALUES ('umbrella',1, NULL,                            'basic', 2);
