-- Retention without a schema change. Before, each retention transaction
-- dropped receipts_no_delete and made it again: a change of the schema,
-- after which every connection prepares its statements again. Now the
-- trigger stays and lets a DELETE through only for the receipts the one
-- row of retention_gate opens: a prefix of one chain, up to seq. Retention
-- (DeleteBefore) opens the gate, deletes and closes it again in one
-- transaction, so a gate open is never committed. Opening it past the
-- chain's anchor is refused: the anchor moves first, and a chain keeps
-- verifying from it. Anyone who can write the database could open the
-- gate, as they could drop the trigger before: the append-only triggers
-- stop mistakes; the hash chains and signed checkpoints show tampering.
CREATE TABLE retention_gate (
	id     INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	portal TEXT,    -- NULL: closed
	seq    INTEGER, -- the last receipt of portal's chain it opens
	CHECK ((portal IS NULL) = (seq IS NULL))
) STRICT;
INSERT INTO retention_gate (id, portal, seq) VALUES (1, NULL, NULL);

CREATE TRIGGER retention_gate_no_delete BEFORE DELETE ON retention_gate
BEGIN
	SELECT RAISE(ABORT, 'retention_gate keeps its row');
END;

CREATE TRIGGER retention_gate_anchored BEFORE UPDATE ON retention_gate
WHEN new.portal IS NOT NULL
	AND NOT EXISTS (SELECT 1 FROM anchors WHERE anchors.portal = new.portal AND anchors.seq >= new.seq)
BEGIN
	SELECT RAISE(ABORT, 'retention_gate: move the chain''s anchor before opening the gate');
END;

DROP TRIGGER IF EXISTS receipts_no_delete;
CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts
WHEN NOT EXISTS (SELECT 1 FROM retention_gate g WHERE g.portal = old.portal AND old.seq <= g.seq)
BEGIN
	SELECT RAISE(ABORT, 'receipts are append-only');
END;
