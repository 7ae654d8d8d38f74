-- Incident models. The model row carries the current values (for lists and
-- filters) and the number of its current revision; every save inserts a
-- revision, which keeps the whole canonical text. Nothing is overwritten
-- or deleted: a model is retired instead.

CREATE TABLE incident_models (
    id           BIGSERIAL PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(key) <= 80),
    title        TEXT NOT NULL,
    category     TEXT NOT NULL DEFAULT '',
    tags         TEXT[] NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL CHECK (status IN ('draft', 'published', 'retired')),
    public       BOOLEAN NOT NULL DEFAULT false,
    revision     INT NOT NULL CHECK (revision >= 1),
    owner_id     BIGINT REFERENCES users (id),
    verified_at  TIMESTAMPTZ,
    verified_by  BIGINT REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX incident_models_category_idx ON incident_models (category);
CREATE INDEX incident_models_tags_idx ON incident_models USING GIN (tags);
CREATE INDEX incident_models_updated_idx ON incident_models (updated_at DESC);

CREATE TABLE model_revisions (
    id          BIGSERIAL PRIMARY KEY,
    model_id    BIGINT NOT NULL REFERENCES incident_models (id),
    number      INT NOT NULL CHECK (number >= 1),
    title       TEXT NOT NULL,
    category    TEXT NOT NULL,
    tags        TEXT[] NOT NULL,
    status      TEXT NOT NULL,
    public      BOOLEAN NOT NULL,
    statement   TEXT NOT NULL,
    steps       TEXT[] NOT NULL,
    discussion  TEXT NOT NULL,
    -- The canonical plain text of this revision, byte for byte.
    body        TEXT NOT NULL,
    author_id   BIGINT REFERENCES users (id),
    summary     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (model_id, number)
);

-- [[key]] links of each model's current revision.
CREATE TABLE model_links (
    from_model_id BIGINT NOT NULL REFERENCES incident_models (id),
    to_model_id   BIGINT NOT NULL REFERENCES incident_models (id),
    PRIMARY KEY (from_model_id, to_model_id)
);
CREATE INDEX model_links_to_idx ON model_links (to_model_id);

-- The transactional outbox for the search index: a write that changes
-- searchable text adds a row here in the same transaction; indexers apply
-- rows in id order.
CREATE TABLE search_outbox (
    id         BIGSERIAL PRIMARY KEY,
    entity     TEXT NOT NULL CHECK (entity IN ('model', 'ticket')),
    entity_id  BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
