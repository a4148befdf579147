-- API keys and the hashes of their secrets (apikey/pgstore).
CREATE TABLE tollgate_apikey_keys (
	id             text PRIMARY KEY,
	prefix         text NOT NULL,
	hint           text NOT NULL,
	name           text NOT NULL DEFAULT '',
	owner_id       text NOT NULL,
	org_id         text NOT NULL DEFAULT '',
	app_id         text NOT NULL DEFAULT '',
	permissions    text[] NOT NULL DEFAULT '{}',
	metadata       jsonb NOT NULL DEFAULT '{}',
	status         text NOT NULL CHECK (status IN ('active', 'inactive', 'revoked')),
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL,
	expires_at     timestamptz,
	last_used_at   timestamptz,
	rate_events    integer,
	rate_per_ns    bigint,
	rate_burst     integer,
	rate_name      text,
	remaining_uses bigint CHECK (remaining_uses >= 0),
	version        bigint NOT NULL DEFAULT 1
);

-- List pages one owner's keys in id order.
CREATE INDEX tollgate_apikey_keys_owner ON tollgate_apikey_keys (owner_id, id);

-- A key's current secret and, during a rotation's grace period, its
-- previous one. The primary key is the index a verification's cache miss
-- reads.
CREATE TABLE tollgate_apikey_hashes (
	digest bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
	key_id text NOT NULL REFERENCES tollgate_apikey_keys (id) ON DELETE CASCADE,
	pepper text NOT NULL,
	until  timestamptz
);

CREATE INDEX tollgate_apikey_hashes_key ON tollgate_apikey_hashes (key_id);
