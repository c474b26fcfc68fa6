-- Hosts, servers and what they claim. Portable SQL: SQLite 3.40 and PostgreSQL 15 run it as is.
CREATE TABLE hosts (
    name        TEXT PRIMARY KEY,
    zone        TEXT NULL,
    aggregates  TEXT NOT NULL DEFAULT '[]',
    inventory   TEXT NOT NULL,
    -- Bumped by every claim and release on the host: a commit made on a stale view fails.
    generation  BIGINT NOT NULL DEFAULT 0,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at  TEXT NOT NULL
);

CREATE TABLE servers (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    host        TEXT NULL REFERENCES hosts (name),
    placement   TEXT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (project_id, name)
);

-- One row per discrete resource a server holds: a pCPU, a VF, a whole PF. The key makes handing
-- one out twice impossible, whatever the processes did.
CREATE TABLE claims (
    host        TEXT NOT NULL REFERENCES hosts (name),
    kind        TEXT NOT NULL,
    item        TEXT NOT NULL,
    server_id   TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    PRIMARY KEY (host, kind, item)
);

CREATE INDEX claims_server ON claims (server_id);
CREATE INDEX servers_host ON servers (host);
