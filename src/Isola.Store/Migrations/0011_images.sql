-- Images (Glance's meaning): a disk's bytes, kept by the server's image store, and what was found in
-- them. A row is made 'queued' (no bytes); one upload, checked by qemu-img, makes it 'active', with its
-- size, virtual size and SHA-256; an active image's bytes never change.
CREATE TABLE images (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id),
    name         TEXT NOT NULL,
    disk_format  TEXT NOT NULL,
    status       TEXT NOT NULL,
    -- Bytes of the file as uploaded, and of the disk the guest sees; NULL while queued.
    size         BIGINT NULL,
    virtual_size BIGINT NULL,
    -- SHA-256 of the bytes, lowercase hex; NULL while queued.
    checksum     TEXT NULL,
    min_disk     INTEGER NOT NULL,
    visibility   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (project_id, name)
);

-- Lookups by "id or name", as for the other resources (0005).
CREATE INDEX images_name ON images (name);

-- The image a server boots from (NULL: none). The foreign key backs the delete's "in use" check
-- against a server created at the same moment.
ALTER TABLE servers ADD COLUMN image_id TEXT NULL REFERENCES images (id);
CREATE INDEX servers_image ON servers (image_id);
