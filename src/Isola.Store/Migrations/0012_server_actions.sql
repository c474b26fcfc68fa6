-- The server's life after its build: actions (Nova's instance actions), how a domain is taken down,
-- which version of its plan it is at, and its serial console as its host's agent last sent it.

-- While set, a stop or soft reboot asks the guest to shut down cleanly (ACPI) until then; past it (or
-- when NULL) the agent powers the domain off. A sweep clears it when it passes, moving the host's revision.
ALTER TABLE servers ADD COLUMN shutdown_deadline TEXT NULL;
-- Moves when the server's spec changes after its create (rebuild): its plan is made again.
ALTER TABLE servers ADD COLUMN plan_version INTEGER NOT NULL DEFAULT 0;
-- The desired power state an action in progress leaves the server in (a rebuild of a SHUTOFF server
-- leaves it shut off, of an ACTIVE one running); NULL when no action is in progress.
ALTER TABLE servers ADD COLUMN power_after TEXT NULL;

-- Every action on a server (create, stop, start, reboot, pause, unpause, rebuild, delete), as Nova's
-- os-instance-actions: who asked (the token), when, and how it ended. No foreign key to servers: a
-- deleted server's actions stay readable by id.
CREATE TABLE server_actions (
    request_id  TEXT PRIMARY KEY,
    server_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    action      TEXT NOT NULL,
    token_id    TEXT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NULL,
    -- Success or Error; NULL while in progress.
    result      TEXT NULL,
    message     TEXT NULL
);
CREATE INDEX server_actions_server ON server_actions (server_id, started_at);

-- The tail of each server's serial console log, as its agent sent it last (at most 64 KiB).
CREATE TABLE server_consoles (
    server_id  TEXT PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
    host       TEXT NOT NULL,
    text       TEXT NOT NULL,
    bytes      BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
