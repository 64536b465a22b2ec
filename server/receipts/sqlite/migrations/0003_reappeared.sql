-- reappeared: per portal, UTC day, cookie name and category, how often a
-- page view found a declared cookie of a category the visitor refused (a
-- script set it again; the loader deletes it and reports its name). day
-- is the Unix seconds of 00:00 UTC, first_seen and last_seen Unix
-- microseconds, pages a JSON array of at most receipts.MaxPages distinct
-- pages. Nothing of the visitor is kept. Retention deletes the days before
-- its cutoff like undeclared.
CREATE TABLE reappeared (
	portal     TEXT    NOT NULL,
	day        INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	category   TEXT    NOT NULL,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	pages      TEXT    NOT NULL,
	PRIMARY KEY (portal, day, name, category)
) STRICT, WITHOUT ROWID;
