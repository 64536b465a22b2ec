-- host_secrets: what every consent host of one database shares without
-- configuration, made once by whichever host starts first (INSERT … ON
-- CONFLICT DO NOTHING): the console session key ('session-key') and the
-- SHA-256 of the admin token ('admin-token-sha256'; the token itself is
-- only in the 0600 file of the host that made it). An environment
-- variable on a host overrides either for that host.
CREATE TABLE host_secrets (
	name       text COLLATE "C" PRIMARY KEY,
	value      bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- session_revocations: console sessions refused by every host until they
-- would have expired anyway: one session (kind 'session', id its id) or
-- the sessions of a credential issued at or before revoked_at (kind
-- 'credential', id the principal's name and credential tag). Hosts are
-- told by NOTIFY portalconsent_revocations and poll recorded_at as a
-- safety net; rows past expires_at are deleted.
CREATE TABLE session_revocations (
	kind        text COLLATE "C" NOT NULL,
	id          text COLLATE "C" NOT NULL,
	revoked_at  timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (kind, id)
);
CREATE INDEX session_revocations_recorded ON session_revocations (recorded_at);
