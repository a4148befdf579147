-- Signing keys of an issuer.KeyRing: one per generation, so that replicas
-- rotating together agree on one key. private_enc is the PKCS #8 key
-- sealed with AES-256-GCM under the key-encryption key, the id as
-- associated data: nonce (12 bytes) || ciphertext || tag.
CREATE TABLE tollgate_issuer_keys (
	id          text PRIMARY KEY,
	generation  bigint NOT NULL UNIQUE,
	algorithm   text NOT NULL,
	private_enc bytea NOT NULL,
	created_at  timestamptz NOT NULL,
	not_before  timestamptz NOT NULL
);
