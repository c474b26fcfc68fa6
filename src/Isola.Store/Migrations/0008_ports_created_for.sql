-- The build-timeout sweep looks for ports made for servers that never committed every few seconds.
CREATE INDEX ports_created_for ON ports (created_for);
