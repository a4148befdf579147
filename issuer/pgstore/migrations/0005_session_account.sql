-- issuer.Session.Account: the account name (username) the login used,
-- whose IP allow-list a refresh is checked against; '' for sessions not
-- started by a login, and for those stored before this migration (checked
-- by their subject).
ALTER TABLE tollgate_issuer_sessions ADD COLUMN account text NOT NULL DEFAULT '';
