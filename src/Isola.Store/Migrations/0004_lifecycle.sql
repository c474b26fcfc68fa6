-- The lifecycle past placement: what each host's agent should make true (revisioned), what it
-- reports back, and server groups.

-- Moves whenever the desired state of the host changes (a server placed, released, resumed): agents
-- wait for it to pass the revision they applied.
ALTER TABLE hosts ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN applied_revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN heartbeat_at TEXT NULL;

-- BUILD: task_state scheduled -> spawning (the agent defined it paused) -> resuming (every port
-- ACTIVE, desired power state running) -> status ACTIVE once the agent reports it running.
ALTER TABLE servers ADD COLUMN task_state TEXT NULL;
ALTER TABLE servers ADD COLUMN power_state TEXT NOT NULL DEFAULT 'paused';
ALTER TABLE servers ADD COLUMN vm_state TEXT NULL;
ALTER TABLE servers ADD COLUMN fault TEXT NULL;
ALTER TABLE servers ADD COLUMN build_deadline TEXT NULL;
ALTER TABLE servers ADD COLUMN group_id TEXT NULL;
CREATE INDEX servers_status ON servers (status, build_deadline);

CREATE TABLE server_groups (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id),
    name         TEXT NOT NULL,
    policy       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (project_id, name)
);
