-- policy_versions: every publication of a portal's policy (receipts.Policies),
-- kept: who published it (an operator's name, 'admin' or 'file'), from
-- where ('api', 'console', 'file'), when (Unix microseconds), the revision
-- it serves, the file it is managed by ('' : the database), the policy JSON
-- as served and the policy as written (source, in format 'yaml' or 'json').
CREATE TABLE policy_versions (
	portal       TEXT    NOT NULL,
	version      INTEGER NOT NULL CHECK (version > 0),
	revision     INTEGER NOT NULL CHECK (revision > 0),
	published_at INTEGER NOT NULL,
	by_whom      TEXT    NOT NULL,
	via          TEXT    NOT NULL,
	file         TEXT    NOT NULL,
	policy       BLOB    NOT NULL,
	source       BLOB    NOT NULL,
	format       TEXT    NOT NULL,
	PRIMARY KEY (portal, version)
) STRICT;

-- policy_current: the version each portal serves; a deleted portal has no
-- row (its versions stay).
CREATE TABLE policy_current (
	portal  TEXT    NOT NULL PRIMARY KEY,
	version INTEGER NOT NULL,
	FOREIGN KEY (portal, version) REFERENCES policy_versions (portal, version)
) STRICT;

-- policy_generation: one row, moved by every change of policy_current.
CREATE TABLE policy_generation (
	id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
) STRICT;
INSERT INTO policy_generation (id, n) VALUES (1, 0);
