-- Resizes and cold migrations (Nova's migrations). While one is open the server holds two placements:
-- the new one (servers.host, servers.placement, its claims) and the one it left (here, with its claims
-- kept on the source host), so a revert gives the old back exactly and nothing else can take it meanwhile.
-- Confirming releases the source's claims; reverting releases the new ones and puts the old back.
CREATE TABLE server_migrations (
    id                  TEXT PRIMARY KEY,
    server_id           TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    -- resize (a new flavor, any host), migration (the same flavor, another host) or evacuation (off a host whose agent is down)
    kind                TEXT NOT NULL,
    -- migrating (the guest goes down on the source, its disk moves), finished (VERIFY_RESIZE), confirmed, reverted
    -- (reverting first, between hosts: the destination's claims held until its agent reports the server taken down);
    -- an evacuation: evacuating (the source's claims kept until its agent, back, reports the server gone), done
    status              TEXT NOT NULL,
    source_host         TEXT NOT NULL REFERENCES hosts (name),
    dest_host           TEXT NOT NULL REFERENCES hosts (name),
    source_placement    TEXT NOT NULL,
    -- The placement it moved to: while a revert between hosts waits for the destination's agent to take the server down, its claims there are held.
    dest_placement      TEXT NULL,
    source_spec         TEXT NULL,
    source_plan_version INTEGER NOT NULL,
    -- ACTIVE or SHUTOFF: what a revert gives back (a SHUTOFF server resized stays shut off, and reverted too).
    source_status       TEXT NOT NULL,
    -- What the source host's agent last reported of the server's domain there (shutoff: its disk may be sent).
    source_vm_state     TEXT NULL,
    -- Whether the source host's agent has sent the server's disk (a move between hosts; the destination fetches it).
    disk_sent           BOOLEAN NOT NULL DEFAULT FALSE,
    -- The sent disk's SHA-256 (the destination checks what it fetches against it).
    disk_sha256         TEXT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX server_migrations_server ON server_migrations (server_id, created_at);
CREATE INDEX server_migrations_source ON server_migrations (source_host, status);
-- One open migration per server.
CREATE UNIQUE INDEX server_migrations_open ON server_migrations (server_id) WHERE status IN ('migrating', 'finished', 'evacuating', 'reverting');
