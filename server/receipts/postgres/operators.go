package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portalconsent/portalconsent/server/receipts"
)

var _ receipts.Operators = (*Store)(nil)

// OperatorsChannel is the NOTIFY channel of changes of the operators
// (payload: the operator's name), sent at the commit of each.
const OperatorsChannel = "portalconsent_operators"

const operatorColumns = "name, token_hash, portals, created_at, updated_at, by_whom"

func scanOperator(row pgx.Row) (receipts.StoredOperator, error) {
	var o receipts.StoredOperator
	var portals string
	if err := row.Scan(&o.Name, &o.TokenHash, &portals, &o.CreatedAt, &o.UpdatedAt, &o.By); err != nil {
		return o, err
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, json.Unmarshal([]byte(portals), &o.Portals)
}

// operatorsChanged moves the generation and notifies every host, at commit.
func operatorsChanged(ctx context.Context, tx pgx.Tx, name string) error {
	if _, err := tx.Exec(ctx, "UPDATE operator_generation SET n = n + 1 WHERE id = 1"); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", OperatorsChannel, name)
	return err
}

// CreateOperator stores o and notifies every host (see
// receipts.Operators): receipts.ErrConflict when an operator of that name
// exists.
func (s *Store) CreateOperator(ctx context.Context, o receipts.StoredOperator, at time.Time) (receipts.StoredOperator, error) {
	if err := o.Check(); err != nil {
		return receipts.StoredOperator{}, err
	}
	portals, _ := json.Marshal(o.Portals)
	o.CreatedAt = at.UTC().Truncate(time.Microsecond)
	o.UpdatedAt = o.CreatedAt
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO operators (`+operatorColumns+`) VALUES ($1, $2, $3, $4, $4, $5)
			ON CONFLICT (name) DO NOTHING`, o.Name, o.TokenHash, string(portals), o.CreatedAt, o.By)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return receipts.ErrConflict
		}
		return operatorsChanged(ctx, tx, o.Name)
	})
	if errors.Is(err, receipts.ErrConflict) {
		return receipts.StoredOperator{}, err
	}
	if err != nil {
		return receipts.StoredOperator{}, unavailable(ctx, "create operator", err)
	}
	return o, nil
}

// UpdateOperator sets an operator's portals and/or token hash and
// notifies every host (see receipts.Operators): receipts.ErrNotFound when
// there is none.
func (s *Store) UpdateOperator(ctx context.Context, name string, portals []string, tokenHash, by string, at time.Time) (receipts.StoredOperator, error) {
	if err := receipts.CheckUpdate(name, portals, tokenHash, by); err != nil {
		return receipts.StoredOperator{}, err
	}
	at = at.UTC().Truncate(time.Microsecond)
	var out receipts.StoredOperator
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		o, err := scanOperator(tx.QueryRow(ctx, "SELECT "+operatorColumns+" FROM operators WHERE name = $1 FOR UPDATE", name))
		if errors.Is(err, pgx.ErrNoRows) {
			return receipts.ErrNotFound
		}
		if err != nil {
			return err
		}
		if portals != nil {
			o.Portals = portals
		}
		if tokenHash != "" {
			o.TokenHash = tokenHash
		}
		o.By, o.UpdatedAt = by, at
		list, _ := json.Marshal(o.Portals)
		if _, err := tx.Exec(ctx, `UPDATE operators SET token_hash = $2, portals = $3, updated_at = $4, by_whom = $5
			WHERE name = $1`, name, o.TokenHash, string(list), at, by); err != nil {
			return err
		}
		out = o
		return operatorsChanged(ctx, tx, name)
	})
	if err != nil {
		return receipts.StoredOperator{}, unavailable(ctx, "update operator", err)
	}
	return out, nil
}

// DeleteOperator removes an operator and notifies every host:
// receipts.ErrNotFound when there is none.
func (s *Store) DeleteOperator(ctx context.Context, name string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM operators WHERE name = $1", name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return receipts.ErrNotFound
		}
		return operatorsChanged(ctx, tx, name)
	})
	return unavailable(ctx, "delete operator", err)
}

// StoredOperators returns every operator, by name.
func (s *Store) StoredOperators(ctx context.Context) ([]receipts.StoredOperator, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+operatorColumns+" FROM operators ORDER BY name")
	if err != nil {
		return nil, unavailable(ctx, "operators", err)
	}
	defer rows.Close()
	out := []receipts.StoredOperator{}
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, unavailable(ctx, "operators", err)
		}
		out = append(out, o)
	}
	return out, unavailable(ctx, "operators", rows.Err())
}

// OperatorGeneration returns the number moved by every change of the
// operators.
func (s *Store) OperatorGeneration(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT n FROM operator_generation WHERE id = 1").Scan(&n)
	return n, unavailable(ctx, "operator generation", err)
}

// WaitOperators returns when an operator may have been created, changed or
// removed by any host: on a notification (OperatorsChannel), and at once
// when it (re)starts listening, on a connection of its own outside the
// pool (the changes missed meanwhile are found by reading
// OperatorGeneration then). It returns an error, the connection closed,
// when the connection fails or ctx is done. One call at a time.
func (s *Store) WaitOperators(ctx context.Context) error {
	return s.operatorsListen.wait(ctx, s, OperatorsChannel)
}
