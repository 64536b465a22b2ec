-- policy_versions: every publication of a portal's policy (receipts.Policies),
-- kept: who published it (an operator's name, 'admin' or 'file'), from
-- where ('api', 'console', 'file'), when, the revision it serves, the file
-- it is managed by ('' : the database), the policy JSON as served and the
-- policy as written (source, in format 'yaml' or 'json').
CREATE TABLE policy_versions (
	portal       text COLLATE "C" NOT NULL,
	version      bigint NOT NULL CHECK (version > 0),
	revision     bigint NOT NULL CHECK (revision > 0),
	published_at timestamptz NOT NULL,
	by_whom      text NOT NULL,
	via          text NOT NULL,
	file         text NOT NULL,
	policy       bytea NOT NULL,
	source       bytea NOT NULL,
	format       text NOT NULL,
	PRIMARY KEY (portal, version)
);

-- policy_current: the version each portal serves; a deleted portal has no
-- row (its versions stay).
CREATE TABLE policy_current (
	portal  text COLLATE "C" PRIMARY KEY,
	version bigint NOT NULL,
	FOREIGN KEY (portal, version) REFERENCES policy_versions (portal, version)
);

-- policy_generation: one row, moved by every change of policy_current;
-- hosts are told of a change by NOTIFY portalconsent_policies.
CREATE TABLE policy_generation (
	id integer PRIMARY KEY CHECK (id = 1),
	n  bigint NOT NULL
);
INSERT INTO policy_generation (id, n) VALUES (1, 0);
