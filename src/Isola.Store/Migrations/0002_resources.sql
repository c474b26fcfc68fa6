-- Projects, tokens and the resources servers are made of.
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

-- Only a hash of each secret is kept; the secret is shown once, when the token is made.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    project_id  TEXT NULL REFERENCES projects (id),
    host        TEXT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE networks (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id),
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    physnet     TEXT NULL,
    segment     BIGINT NULL,
    -- Non-null copies for the uniqueness index ('' and 0 when the network has none).
    physnet_key TEXT NOT NULL,
    segment_key BIGINT NOT NULL,
    mtu         INTEGER NOT NULL,
    shared      BOOLEAN NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (project_id, name)
);

-- A VLAN is used once per physnet, a flat physnet once, a VNI or GRE key once.
CREATE UNIQUE INDEX networks_segment ON networks (type, physnet_key, segment_key);

CREATE TABLE flavors (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    vcpus       INTEGER NOT NULL,
    ram_mib     BIGINT NOT NULL,
    disk_gib    INTEGER NOT NULL,
    extra_specs TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE ports (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id),
    network_id  TEXT NOT NULL REFERENCES networks (id),
    name        TEXT NOT NULL,
    mac         TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL,
    server_id   TEXT NULL,
    spec        TEXT NOT NULL,
    binding     TEXT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (project_id, name)
);

ALTER TABLE servers ADD COLUMN spec TEXT NULL;
