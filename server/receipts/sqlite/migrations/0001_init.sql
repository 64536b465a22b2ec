-- Receipts: one row per choice, the hash chain of each portal. id is the
-- UUID's 16 bytes; prev and hash are 32 raw bytes; decided_at is Unix
-- seconds, received_at Unix microseconds; choices as receipts.EncodeChoices;
-- notice the hex SHA-256 of the notice shown.
CREATE TABLE receipts (
	portal      TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	id          BLOB    NOT NULL,
	consent_id  TEXT    NOT NULL,
	revision    INTEGER NOT NULL,
	choices     TEXT    NOT NULL,
	method      TEXT    NOT NULL,
	lang        TEXT    NOT NULL,
	page        TEXT    NOT NULL,
	decided_at  INTEGER NOT NULL,
	received_at INTEGER NOT NULL,
	notice      TEXT    NOT NULL,
	prev        BLOB    NOT NULL,
	hash        BLOB    NOT NULL,
	PRIMARY KEY (portal, seq)
) STRICT, WITHOUT ROWID;

CREATE INDEX receipts_consent ON receipts (portal, consent_id);
CREATE INDEX receipts_received ON receipts (portal, received_at);

-- Append-only: retention (DeleteBefore) drops and recreates
-- receipts_no_delete in its own transaction; nothing else may change a row.
CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts
BEGIN
	SELECT RAISE(ABORT, 'receipts are append-only');
END;

CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts
BEGIN
	SELECT RAISE(ABORT, 'receipts are append-only');
END;

-- The head of each portal's chain: its last receipt.
CREATE TABLE chains (
	portal TEXT    NOT NULL PRIMARY KEY,
	seq    INTEGER NOT NULL,
	hash   BLOB    NOT NULL
) STRICT, WITHOUT ROWID;

-- Where a chain starts once retention deleted its beginning: the last
-- deleted receipt.
CREATE TABLE anchors (
	portal TEXT    NOT NULL PRIMARY KEY,
	seq    INTEGER NOT NULL,
	hash   BLOB    NOT NULL
) STRICT, WITHOUT ROWID;

-- Notices: each policy document served, once by portal and hex SHA-256.
-- Times are Unix microseconds.
CREATE TABLE notices (
	portal       TEXT    NOT NULL,
	sha256       TEXT    NOT NULL,
	revision     INTEGER NOT NULL,
	lang         TEXT    NOT NULL,
	body         BLOB    NOT NULL,
	first_served INTEGER NOT NULL,
	last_served  INTEGER NOT NULL,
	PRIMARY KEY (portal, sha256)
) STRICT;

-- Undeclared cookie names by portal and UTC day (Unix seconds of 00:00);
-- first_seen and last_seen are Unix microseconds, pages a JSON array of at
-- most receipts.MaxPages distinct pages.
CREATE TABLE undeclared (
	portal     TEXT    NOT NULL,
	day        INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	pages      TEXT    NOT NULL,
	PRIMARY KEY (portal, day, name)
) STRICT, WITHOUT ROWID;
