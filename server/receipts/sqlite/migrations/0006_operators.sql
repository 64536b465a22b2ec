-- operators: the operators managed by the database (receipts.Operators),
-- created through the API or the console: the bcrypt hash of their token
-- (never the token), their portals (a JSON array of portal ids, or ["*"]),
-- when created and last changed (Unix microseconds), and by whom.
CREATE TABLE operators (
	name       TEXT    NOT NULL PRIMARY KEY,
	token_hash TEXT    NOT NULL,
	portals    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	by_whom    TEXT    NOT NULL
) STRICT;

-- operator_generation: one row, moved by every change of operators.
CREATE TABLE operator_generation (
	id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
) STRICT;
INSERT INTO operator_generation (id, n) VALUES (1, 0);
