-- undeclared gains a type: where the name was found, "cookie" (every tally
-- before this migration), "localStorage" or "sessionStorage" (keys of the
-- page's web storage; names only, never values). A name is tallied per
-- type: the same name as a cookie and as a localStorage key are two
-- tallies. The table is made again: SQLite cannot change a primary key.
CREATE TABLE undeclared_typed (
	portal     TEXT    NOT NULL,
	day        INTEGER NOT NULL,
	type       TEXT    NOT NULL CHECK (type IN ('cookie', 'localStorage', 'sessionStorage')),
	name       TEXT    NOT NULL,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	pages      TEXT    NOT NULL,
	PRIMARY KEY (portal, day, type, name)
) STRICT, WITHOUT ROWID;
INSERT INTO undeclared_typed (portal, day, type, name, count, first_seen, last_seen, pages)
	SELECT portal, day, 'cookie', name, count, first_seen, last_seen, pages FROM undeclared;
DROP TABLE undeclared;
ALTER TABLE undeclared_typed RENAME TO undeclared;
