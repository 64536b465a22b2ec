-- undeclared gains a type: where the name was found, 'cookie' (every tally
-- before this migration), 'localStorage' or 'sessionStorage' (keys of the
-- page's web storage; names only, never values). A name is tallied per
-- type: the same name as a cookie and as a localStorage key are two
-- tallies, so the type joins the primary key.
ALTER TABLE undeclared ADD COLUMN type text COLLATE "C" NOT NULL DEFAULT 'cookie'
	CHECK (type IN ('cookie', 'localStorage', 'sessionStorage'));
ALTER TABLE undeclared ALTER COLUMN type DROP DEFAULT;
ALTER TABLE undeclared DROP CONSTRAINT undeclared_pkey;
ALTER TABLE undeclared ADD PRIMARY KEY (portal, day, type, name);
