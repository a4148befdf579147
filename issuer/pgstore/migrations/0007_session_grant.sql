-- issuer.Session.Grant: the grant that started the session
-- (authorization_code, password), whose scopes a refresh may carry on;
-- '' for sessions started without one, and for those stored before this
-- migration (a refresh then carries what any grant with refresh tokens
-- gives).
ALTER TABLE tollgate_issuer_sessions ADD COLUMN grant_type text NOT NULL DEFAULT '';
