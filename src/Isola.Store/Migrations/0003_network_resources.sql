-- Subnets with IP allocation, QoS policies and security groups (Neutron's meaning).
-- Portable SQL: SQLite 3.40 and PostgreSQL 15 run it as is.
CREATE TABLE subnets (
    id               TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL REFERENCES projects (id),
    -- A network's subnets go with it (a network with ports is not deleted).
    network_id       TEXT NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    ip_version       INTEGER NOT NULL,
    cidr             TEXT NOT NULL,
    gateway_ip       TEXT NULL,
    allocation_pools TEXT NOT NULL,
    dns_nameservers  TEXT NOT NULL,
    enable_dhcp      BOOLEAN NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE INDEX subnets_network ON subnets (network_id);

-- One row per address a port holds. The key makes handing one address out twice impossible,
-- whatever the server processes did; a port's addresses go with it.
CREATE TABLE ip_allocations (
    subnet_id   TEXT NOT NULL REFERENCES subnets (id),
    address     TEXT NOT NULL,
    port_id     TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    PRIMARY KEY (subnet_id, address)
);

CREATE INDEX ip_allocations_port ON ip_allocations (port_id);

CREATE TABLE qos_policies (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    shared      BOOLEAN NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (project_id, name)
);

-- One rule per type and direction (dscp-marking has none: stored as egress).
CREATE TABLE qos_rules (
    id             TEXT PRIMARY KEY,
    policy_id      TEXT NOT NULL REFERENCES qos_policies (id) ON DELETE CASCADE,
    type           TEXT NOT NULL,
    direction      TEXT NOT NULL,
    max_kbps       BIGINT NULL,
    max_burst_kbps BIGINT NULL,
    min_kbps       BIGINT NULL,
    dscp_mark      INTEGER NULL,
    created_at     TEXT NOT NULL,
    UNIQUE (policy_id, type, direction)
);

CREATE TABLE security_groups (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    -- Also what keeps a project at one 'default' group when two requests make it at once.
    UNIQUE (project_id, name)
);

-- rule_key is the rule's normalised fields in one string: the same rule twice in a group is refused.
CREATE TABLE security_group_rules (
    id               TEXT PRIMARY KEY,
    group_id         TEXT NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
    direction        TEXT NOT NULL,
    ethertype        TEXT NOT NULL,
    protocol         TEXT NULL,
    port_range_min   INTEGER NULL,
    port_range_max   INTEGER NULL,
    remote_ip_prefix TEXT NULL,
    -- Rules that name a deleted group as their remote go with it (as in Neutron).
    remote_group_id  TEXT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
    rule_key         TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (group_id, rule_key)
);

CREATE INDEX security_group_rules_remote ON security_group_rules (remote_group_id);

-- A port's groups; a group in use is not deleted (no cascade from the group's side).
CREATE TABLE port_security_groups (
    port_id     TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    group_id    TEXT NOT NULL REFERENCES security_groups (id),
    PRIMARY KEY (port_id, group_id)
);

CREATE INDEX port_security_groups_group ON port_security_groups (group_id);

ALTER TABLE ports ADD COLUMN qos_policy_id TEXT NULL REFERENCES qos_policies (id);
ALTER TABLE ports ADD COLUMN port_security BOOLEAN NOT NULL DEFAULT TRUE;

CREATE INDEX ports_qos_policy ON ports (qos_policy_id);
