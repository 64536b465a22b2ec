-- reappeared: per portal, UTC day, cookie name and category, how often a
-- page view found a declared cookie of a category the visitor refused (a
-- script set it again; the loader deletes it and reports its name), and a
-- few of those pages. Nothing of the visitor is kept. Retention deletes
-- the days before its cutoff like undeclared.
CREATE TABLE reappeared (
	portal     text COLLATE "C" NOT NULL,
	day        date NOT NULL,
	name       text COLLATE "C" NOT NULL,
	category   text COLLATE "C" NOT NULL,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	pages      text[] NOT NULL DEFAULT '{}',
	PRIMARY KEY (portal, day, name, category)
);
