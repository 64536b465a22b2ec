-- checkpoints: chain heads signed with a key kept outside the database
-- (receipts.Checkpoint): one per portal and seq. signed_at is Unix
-- microseconds; hash is the head's SHA-256 (32 bytes), public_key the
-- Ed25519 key that signed (32 bytes), signature its signature (64 bytes)
-- of receipts.Checkpoint.Message. Retention leaves them.
CREATE TABLE checkpoints (
	portal     TEXT    NOT NULL,
	seq        INTEGER NOT NULL CHECK (seq > 0),
	hash       BLOB    NOT NULL CHECK (length(hash) = 32),
	signed_at  INTEGER NOT NULL,
	public_key BLOB    NOT NULL CHECK (length(public_key) = 32),
	signature  BLOB    NOT NULL CHECK (length(signature) = 64),
	PRIMARY KEY (portal, seq)
) STRICT, WITHOUT ROWID;
