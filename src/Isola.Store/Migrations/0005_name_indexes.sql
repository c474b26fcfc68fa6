-- Lookups by "id or name" (every API path that names a resource) use the primary key or these;
-- the (project_id, name) unique keys cannot serve a name alone.
CREATE INDEX ports_name ON ports (name);
CREATE INDEX servers_name ON servers (name);
CREATE INDEX networks_name ON networks (name);
CREATE INDEX subnets_name ON subnets (name);
CREATE INDEX server_groups_name ON server_groups (name);
CREATE INDEX qos_policies_name ON qos_policies (name);
CREATE INDEX security_groups_name ON security_groups (name);
CREATE INDEX ports_server ON ports (server_id);
