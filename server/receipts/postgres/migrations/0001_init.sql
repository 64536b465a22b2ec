-- Receipts, notices, chain heads, anchors and undeclared-cookie tallies.
-- Portal columns use the "C" collation so that the database sorts portals
-- as Go does (heads are locked in that order, Verify walks it).

-- receipts is range-partitioned by month of received_at; the partitions
-- receipts_YYYY_MM are created by the store (at Open, daily, and when an
-- Append falls in a month without one) and dropped whole by retention.
CREATE TABLE receipts (
	id          uuid NOT NULL,
	portal      text COLLATE "C" NOT NULL,
	seq         bigint NOT NULL,
	consent_id  text COLLATE "C" NOT NULL,
	revision    bigint NOT NULL,
	choices     text NOT NULL,
	method      text NOT NULL,
	lang        text NOT NULL,
	page        text NOT NULL,
	decided_at  timestamptz NOT NULL,
	received_at timestamptz NOT NULL,
	notice      text NOT NULL,
	prev        bytea NOT NULL CHECK (length(prev) = 32),
	hash        bytea NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (portal, seq, received_at)
) PARTITION BY RANGE (received_at);

CREATE INDEX receipts_consent ON receipts (portal, consent_id);
CREATE INDEX receipts_received ON receipts (portal, received_at);

-- Receipts are append-only: updating or deleting one is refused unless the
-- transaction is retention's (SET LOCAL portalconsent.retention = 'on').
CREATE FUNCTION receipts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF coalesce(current_setting('portalconsent.retention', true), '') <> 'on' THEN
		RAISE EXCEPTION 'receipts are append-only: % refused outside retention', TG_OP
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER receipts_append_only BEFORE UPDATE OR DELETE ON receipts
	FOR EACH ROW EXECUTE FUNCTION receipts_append_only();
CREATE TRIGGER receipts_no_truncate BEFORE TRUNCATE ON receipts
	FOR EACH STATEMENT EXECUTE FUNCTION receipts_append_only();

-- notices: each distinct policy document served, once.
CREATE TABLE notices (
	portal       text COLLATE "C" NOT NULL,
	sha256       text COLLATE "C" NOT NULL,
	revision     bigint NOT NULL,
	lang         text NOT NULL,
	body         bytea NOT NULL,
	first_served timestamptz NOT NULL,
	last_served  timestamptz NOT NULL,
	PRIMARY KEY (portal, sha256)
);

-- chains: the head (last receipt) of each portal's chain; appenders lock
-- its row while they extend the chain.
CREATE TABLE chains (
	portal text COLLATE "C" PRIMARY KEY,
	seq    bigint NOT NULL CHECK (seq >= 0),
	hash   bytea NOT NULL CHECK (length(hash) = 32)
);

-- anchors: where a chain starts once retention deleted its beginning (the
-- last deleted receipt).
CREATE TABLE anchors (
	portal text COLLATE "C" PRIMARY KEY,
	seq    bigint NOT NULL CHECK (seq > 0),
	hash   bytea NOT NULL CHECK (length(hash) = 32)
);

-- undeclared: per portal, UTC day and cookie name, how often pages set a
-- cookie their policy does not declare, and a few of those pages.
CREATE TABLE undeclared (
	portal     text COLLATE "C" NOT NULL,
	day        date NOT NULL,
	name       text COLLATE "C" NOT NULL,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	pages      text[] NOT NULL DEFAULT '{}',
	PRIMARY KEY (portal, day, name)
);
