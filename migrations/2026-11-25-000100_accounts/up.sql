-- Accounts: organisations (customers belong to one), users with one role,
-- database-backed sessions (so logout, password change and disabling end
-- them everywhere at once), hashed API tokens, login attempts for rate
-- limiting, and the one-time first-admin setup token.

CREATE TABLE organizations (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX organizations_name_key ON organizations (lower(name));

CREATE TABLE users (
    id              BIGSERIAL PRIMARY KEY,
    email           TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    display_name    TEXT NOT NULL CHECK (length(btrim(display_name)) BETWEEN 1 AND 120),
    role            TEXT NOT NULL CHECK (role IN ('customer', 'engineer', 'reviewer', 'manager', 'admin')),
    organization_id BIGINT REFERENCES organizations (id),
    password_hash   TEXT NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT false,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT customers_have_an_organization CHECK (role <> 'customer' OR organization_id IS NOT NULL)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE sessions (
    id           BIGSERIAL PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 80),
    token_hash   TEXT NOT NULL UNIQUE,
    -- The first characters, so a person can tell tokens apart.
    prefix       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE login_attempts (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    email       TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    succeeded   BOOLEAN NOT NULL
);
CREATE INDEX login_attempts_email_idx ON login_attempts (lower(email), at);
CREATE INDEX login_attempts_addr_idx ON login_attempts (client_addr, at);

-- At most one row: the hash of the token printed to the console while no
-- admin exists.
CREATE TABLE setup_tokens (
    id         INT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    token_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE audit_log
    ADD CONSTRAINT audit_log_actor_fkey FOREIGN KEY (actor_id) REFERENCES users (id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id);
