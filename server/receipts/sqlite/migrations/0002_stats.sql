-- Daily aggregates for the operator console, updated by Append in the
-- transaction of each receipt (CountImpression for impressions). day is the
-- Unix seconds of 00:00 UTC of the receive time, as in undeclared.
-- Retention deletes the days before its cutoff with the receipts.

-- Decisions per portal, day, revision, language and method.
CREATE TABLE stats_decisions (
	portal   TEXT    NOT NULL,
	day      INTEGER NOT NULL,
	revision INTEGER NOT NULL,
	lang     TEXT    NOT NULL,
	method   TEXT    NOT NULL,
	count    INTEGER NOT NULL,
	PRIMARY KEY (portal, day, revision, lang, method)
) STRICT, WITHOUT ROWID;

-- Decisions accepting each category, per portal, day, revision, language.
CREATE TABLE stats_accepted (
	portal   TEXT    NOT NULL,
	day      INTEGER NOT NULL,
	revision INTEGER NOT NULL,
	lang     TEXT    NOT NULL,
	category TEXT    NOT NULL,
	count    INTEGER NOT NULL,
	PRIMARY KEY (portal, day, revision, lang, category)
) STRICT, WITHOUT ROWID;

-- Receipts refusing a category the previous receipt of their consent id
-- accepted, per portal and day.
CREATE TABLE stats_withdrawals (
	portal TEXT    NOT NULL,
	day    INTEGER NOT NULL,
	count  INTEGER NOT NULL,
	PRIMARY KEY (portal, day)
) STRICT, WITHOUT ROWID;

-- Banners shown, per portal, day, revision and language.
CREATE TABLE stats_impressions (
	portal   TEXT    NOT NULL,
	day      INTEGER NOT NULL,
	revision INTEGER NOT NULL,
	lang     TEXT    NOT NULL,
	count    INTEGER NOT NULL,
	PRIMARY KEY (portal, day, revision, lang)
) STRICT, WITHOUT ROWID;

-- The aggregates of the receipts stored before this migration.
-- choices "a=1/b=0" read as the JSON array ["a=1","b=0"] (category ids
-- are [a-z0-9_-]: nothing to escape).
INSERT INTO stats_decisions (portal, day, revision, lang, method, count)
SELECT portal, received_at / 86400000000 * 86400, revision, lang, method, count(*)
FROM receipts GROUP BY 1, 2, 3, 4, 5;

INSERT INTO stats_accepted (portal, day, revision, lang, category, count)
SELECT portal, received_at / 86400000000 * 86400, revision, lang, substr(j.value, 1, length(j.value) - 2), count(*)
FROM receipts, json_each('["' || replace(choices, '/', '","') || '"]') AS j
WHERE choices <> '' AND j.value LIKE '%=1'
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO stats_withdrawals (portal, day, count)
SELECT portal, received_at / 86400000000 * 86400, count(*)
FROM (SELECT portal, received_at, choices,
		lag(choices) OVER (PARTITION BY portal, consent_id ORDER BY seq) AS prev
	FROM receipts) AS r
WHERE prev IS NOT NULL AND choices <> '' AND EXISTS (
	SELECT 1 FROM json_each('["' || replace(choices, '/', '","') || '"]') AS j
	WHERE j.value LIKE '%=0'
		AND instr('/' || prev || '/', '/' || substr(j.value, 1, length(j.value) - 1) || '1/') > 0)
GROUP BY 1, 2;
