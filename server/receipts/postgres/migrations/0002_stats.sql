-- Daily aggregates for the operator console, updated by Append in the
-- transaction of each batch of receipts (and impressions). day is the UTC
-- date of the receive time. Retention deletes the days before its cutoff
-- with the receipts. The tables and columns are those of SQLite's 0002.

-- Decisions per portal, day, revision, language and method.
CREATE TABLE stats_decisions (
	portal   text COLLATE "C" NOT NULL,
	day      date NOT NULL,
	revision bigint NOT NULL,
	lang     text COLLATE "C" NOT NULL,
	method   text COLLATE "C" NOT NULL,
	count    bigint NOT NULL,
	PRIMARY KEY (portal, day, revision, lang, method)
);

-- Decisions accepting each category, per portal, day, revision, language.
CREATE TABLE stats_accepted (
	portal   text COLLATE "C" NOT NULL,
	day      date NOT NULL,
	revision bigint NOT NULL,
	lang     text COLLATE "C" NOT NULL,
	category text COLLATE "C" NOT NULL,
	count    bigint NOT NULL,
	PRIMARY KEY (portal, day, revision, lang, category)
);

-- Receipts refusing a category the previous receipt of their consent id
-- accepted, per portal and day.
CREATE TABLE stats_withdrawals (
	portal text COLLATE "C" NOT NULL,
	day    date NOT NULL,
	count  bigint NOT NULL,
	PRIMARY KEY (portal, day)
);

-- Banners shown, per portal, day, revision and language.
CREATE TABLE stats_impressions (
	portal   text COLLATE "C" NOT NULL,
	day      date NOT NULL,
	revision bigint NOT NULL,
	lang     text COLLATE "C" NOT NULL,
	count    bigint NOT NULL,
	PRIMARY KEY (portal, day, revision, lang)
);

-- Append finds the previous receipt of a consent id (its last by seq) by
-- reading this index backwards; it serves Consent's ORDER BY seq too. With
-- (portal, consent_id) alone the planner may walk a partition's primary
-- key backwards instead, filtering every receipt of the portal (it does
-- so on a partition that grew since it was last analyzed).
CREATE INDEX receipts_consent_seq ON receipts (portal, consent_id, seq);
DROP INDEX receipts_consent;

-- The aggregates of the receipts stored before this migration.
INSERT INTO stats_decisions (portal, day, revision, lang, method, count)
SELECT portal, (received_at AT TIME ZONE 'UTC')::date, revision, lang, method, count(*)
FROM receipts GROUP BY 1, 2, 3, 4, 5;

INSERT INTO stats_accepted (portal, day, revision, lang, category, count)
SELECT portal, (received_at AT TIME ZONE 'UTC')::date, revision, lang, left(c, -2), count(*)
FROM receipts, string_to_table(choices, '/') AS c
WHERE c LIKE '%=1'
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO stats_withdrawals (portal, day, count)
SELECT portal, (received_at AT TIME ZONE 'UTC')::date, count(*)
FROM (SELECT portal, received_at, choices,
		lag(choices) OVER (PARTITION BY portal, consent_id ORDER BY seq) AS prev
	FROM receipts) AS r
WHERE prev IS NOT NULL AND EXISTS (
	SELECT 1 FROM string_to_table(choices, '/') AS c
	WHERE c LIKE '%=0' AND position('/' || left(c, -1) || '1/' IN '/' || prev || '/') > 0)
GROUP BY 1, 2;
