-- The undeclared-name tallies per writer too (issue 20 item 4), as the
-- statistics are since 0008: every receipt reporting a name (say _ga, on
-- most pages of a portal) updates its tally row in its batch's transaction,
-- so with one row per (portal, day, type, name) every host's batch locked
-- the same row until commit and the hosts waited on each other again. Each
-- writer now counts in rows of its own; the readers (Undeclared,
-- UndeclaredPage: the API, the console, reports, the suggested YAML) sum
-- them. The tallies counted before are writer 0's.
ALTER TABLE undeclared ADD COLUMN writer integer NOT NULL DEFAULT 0 CHECK (writer >= 0);
ALTER TABLE undeclared DROP CONSTRAINT undeclared_pkey;
ALTER TABLE undeclared ADD PRIMARY KEY (portal, day, type, name, writer);
