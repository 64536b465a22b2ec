-- operators: the operators managed by the database (receipts.Operators),
-- created through the API or the console: the bcrypt hash of their token
-- (never the token), their portals (a JSON array of portal ids, or ["*"]),
-- when created and last changed, and by whom.
CREATE TABLE operators (
	name       text COLLATE "C" PRIMARY KEY,
	token_hash text NOT NULL,
	portals    text NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	by_whom    text NOT NULL
);

-- operator_generation: one row, moved by every change of operators; hosts
-- are told of a change by NOTIFY portalconsent_operators.
CREATE TABLE operator_generation (
	id integer PRIMARY KEY CHECK (id = 1),
	n  bigint NOT NULL
);
INSERT INTO operator_generation (id, n) VALUES (1, 0);
