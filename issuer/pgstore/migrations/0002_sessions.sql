-- Refresh sessions of an issuer.Sessions and the SHA-256 hashes of their
-- refresh tokens (never the tokens). A consumed token keeps its row, with
-- used_at set, so that its reuse is recognised until the session expires.
CREATE TABLE tollgate_issuer_sessions (
	id            text PRIMARY KEY,
	client_id     text NOT NULL,
	subject       text NOT NULL,
	scopes        text[] NOT NULL,
	audience      text[] NOT NULL,
	created_at    timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL,
	idle_lifetime bigint NOT NULL, -- microseconds
	ended_at      timestamptz
);
CREATE INDEX tollgate_issuer_sessions_expires_at ON tollgate_issuer_sessions (expires_at);

CREATE TABLE tollgate_issuer_refresh_tokens (
	hash       bytea PRIMARY KEY,
	session_id text NOT NULL REFERENCES tollgate_issuer_sessions (id) ON DELETE CASCADE,
	expires_at timestamptz NOT NULL,
	used_at    timestamptz
);
CREATE INDEX tollgate_issuer_refresh_tokens_session_id ON tollgate_issuer_refresh_tokens (session_id);
