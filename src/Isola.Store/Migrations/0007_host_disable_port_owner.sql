-- Why an operator took a host out of scheduling; which server made a port for itself (a server created
-- from networks: its ports go with it).
ALTER TABLE hosts ADD COLUMN disabled_reason TEXT NULL;
ALTER TABLE ports ADD COLUMN created_for TEXT NULL;
