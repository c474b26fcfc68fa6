-- A host's tunnel endpoint (Neutron's local_ip): where VXLAN and GRE tunnels to it end.
ALTER TABLE hosts ADD COLUMN tunnel_ip TEXT NULL;
