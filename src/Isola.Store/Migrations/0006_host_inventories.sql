-- A host's inventory (tens of kilobytes of JSON) in its own table: every claim and release moves
-- the host's generation, and a row update rewrites the whole row (SQLite) - it should be a small one.
CREATE TABLE host_inventories (
    host        TEXT PRIMARY KEY REFERENCES hosts (name),
    inventory   TEXT NOT NULL
);
INSERT INTO host_inventories (host, inventory) SELECT name, inventory FROM hosts;
ALTER TABLE hosts DROP COLUMN inventory;
