-- Chains per portal and writer (issue 20 item 4): a writer is a slot a
-- host leases for as long as it lives (a session advisory lock, see
-- Store.Writer); its appends extend only the chains of its own writer, so
-- that no lock on the append path is shared between hosts. The receipts,
-- chain heads, anchors and checkpoints stored before are writer 0's: each
-- existing per-portal chain stays as it was (its hashes and signatures
-- hold) and is continued by whichever host leases writer 0.
ALTER TABLE receipts ADD COLUMN writer integer NOT NULL DEFAULT 0;
ALTER TABLE receipts DROP CONSTRAINT receipts_pkey;
ALTER TABLE receipts ADD PRIMARY KEY (portal, writer, seq, received_at);

ALTER TABLE chains ADD COLUMN writer integer NOT NULL DEFAULT 0 CHECK (writer >= 0);
ALTER TABLE chains DROP CONSTRAINT chains_pkey;
ALTER TABLE chains ADD PRIMARY KEY (portal, writer);

ALTER TABLE anchors ADD COLUMN writer integer NOT NULL DEFAULT 0 CHECK (writer >= 0);
ALTER TABLE anchors DROP CONSTRAINT anchors_pkey;
ALTER TABLE anchors ADD PRIMARY KEY (portal, writer);

ALTER TABLE checkpoints ADD COLUMN writer integer NOT NULL DEFAULT 0 CHECK (writer >= 0);
ALTER TABLE checkpoints DROP CONSTRAINT checkpoints_pkey;
ALTER TABLE checkpoints ADD PRIMARY KEY (portal, writer, seq);

-- The daily aggregates: a row per writer too (Stats sums them), so that two
-- hosts counting the same portal's day never wait on one row.
ALTER TABLE stats_decisions ADD COLUMN writer integer NOT NULL DEFAULT 0;
ALTER TABLE stats_decisions DROP CONSTRAINT stats_decisions_pkey;
ALTER TABLE stats_decisions ADD PRIMARY KEY (portal, day, revision, lang, method, writer);
ALTER TABLE stats_accepted ADD COLUMN writer integer NOT NULL DEFAULT 0;
ALTER TABLE stats_accepted DROP CONSTRAINT stats_accepted_pkey;
ALTER TABLE stats_accepted ADD PRIMARY KEY (portal, day, revision, lang, category, writer);
ALTER TABLE stats_withdrawals ADD COLUMN writer integer NOT NULL DEFAULT 0;
ALTER TABLE stats_withdrawals DROP CONSTRAINT stats_withdrawals_pkey;
ALTER TABLE stats_withdrawals ADD PRIMARY KEY (portal, day, writer);
ALTER TABLE stats_impressions ADD COLUMN writer integer NOT NULL DEFAULT 0;
ALTER TABLE stats_impressions DROP CONSTRAINT stats_impressions_pkey;
ALTER TABLE stats_impressions ADD PRIMARY KEY (portal, day, revision, lang, writer);

-- last_choices: each consent id's last choice (its receipt's choices and
-- receive time), kept by Append in the transaction of the receipt, so that
-- the withdrawal lookup (and whether a receipt may be a resend) reads one
-- row instead of probing every monthly partition. Its row lock is the only
-- one hosts may share on the append path, and only for receipts of the
-- same consent id (one visitor). Retention deletes the rows whose receipt
-- it deleted.
CREATE TABLE last_choices (
	portal      text COLLATE "C" NOT NULL,
	consent_id  text COLLATE "C" NOT NULL,
	choices     text NOT NULL,
	received_at timestamptz NOT NULL,
	PRIMARY KEY (portal, consent_id)
);
INSERT INTO last_choices (portal, consent_id, choices, received_at)
SELECT DISTINCT ON (portal, consent_id) portal, consent_id, choices, received_at
FROM receipts ORDER BY portal, consent_id, seq DESC;
