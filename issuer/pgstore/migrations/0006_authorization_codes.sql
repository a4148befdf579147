-- The authorization code grant: issuer.AuthorizationCode records (the
-- SHA-256 of each code, never the code) and the users' consents
-- (issuer.Grant), one per subject and client.
--
-- A code's row outlives the code by issuer.CodeReplayWindow, so that a
-- replay still ends the session it started; CreateCode deletes the rows
-- past it, found by the index on expires_at. redeemed_at is NULL until the
-- code is redeemed, session_id '' until its session is bound, and replayed
-- is set when a code redeemed before is presented again.
CREATE TABLE tollgate_issuer_codes (
	hash               bytea PRIMARY KEY,
	client_id          text NOT NULL,
	redirect_uri       text NOT NULL,
	redirect_uri_given boolean NOT NULL,
	challenge          text NOT NULL,
	subject            text NOT NULL,
	scopes             text[] NOT NULL,
	grant_id           text NOT NULL,
	created_at         timestamptz NOT NULL,
	expires_at         timestamptz NOT NULL,
	redeemed_at        timestamptz,
	session_id         text NOT NULL DEFAULT '',
	replayed           boolean NOT NULL DEFAULT false,
	CHECK (NOT replayed OR redeemed_at IS NOT NULL)
);
CREATE INDEX tollgate_issuer_codes_expires_at ON tollgate_issuer_codes (expires_at);

-- scopes are sorted (byte order) and distinct.
CREATE TABLE tollgate_issuer_grants (
	id         text PRIMARY KEY,
	subject    text NOT NULL,
	client_id  text NOT NULL,
	scopes     text[] NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	UNIQUE (subject, client_id)
);

-- issuer.SessionStore.EndSessionsOf: a user revoking an app ends every
-- session of the user with the client.
CREATE INDEX tollgate_issuer_sessions_client_subject ON tollgate_issuer_sessions (client_id, subject);

-- issuer.Client.RedirectURIs and Public; '{}' and false for the clients
-- stored before this migration.
ALTER TABLE tollgate_issuer_clients
	ADD COLUMN redirect_uris text[] NOT NULL DEFAULT '{}',
	ADD COLUMN public boolean NOT NULL DEFAULT false;
