-- When the scheduler began skipping a host because its agent, having reported before, fell silent.
-- Set by a server process's sweep (once: the UPDATE is conditional on it being NULL), cleared by the
-- agent's next report. Each change, and only a change, moves the host's generation, so every server
-- process's in-memory fleet takes it in; heartbeats alone leave the generation where it is.
ALTER TABLE hosts ADD COLUMN agent_down_at TEXT NULL;
