-- issuer.Client.GrantScopes: the scopes each grant alone may give, as a
-- JSON object of grant type to an array of scopes; {} for none.
ALTER TABLE tollgate_issuer_clients ADD COLUMN grant_scopes jsonb NOT NULL DEFAULT '{}';
