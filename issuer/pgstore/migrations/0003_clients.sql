-- OAuth clients of an issuer.Clients. secret_hash is the argon2id PHC
-- string of the client secret, never the secret. Lifetimes are in
-- microseconds, 0 for the default.
CREATE TABLE tollgate_issuer_clients (
	id                text PRIMARY KEY,
	name              text NOT NULL,
	secret_hash       text NOT NULL,
	grants            text[] NOT NULL,
	scopes            text[] NOT NULL,
	audience          text[] NOT NULL,
	access_lifetime   bigint NOT NULL,
	refresh_idle      bigint NOT NULL,
	refresh_absolute  bigint NOT NULL,
	disabled          boolean NOT NULL,
	created_at        timestamptz NOT NULL,
	secret_rotated_at timestamptz NOT NULL
);
