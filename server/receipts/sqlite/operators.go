package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

var _ receipts.Operators = (*Store)(nil)

const operatorColumns = "name, token_hash, portals, created_at, updated_at, by_whom"

func scanOperator(row rowScanner) (receipts.StoredOperator, error) {
	var o receipts.StoredOperator
	var portals string
	var created, updated int64
	if err := row.Scan(&o.Name, &o.TokenHash, &portals, &created, &updated, &o.By); err != nil {
		return o, err
	}
	o.CreatedAt, o.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return o, json.Unmarshal([]byte(portals), &o.Portals)
}

// plainErr returns the refusal inside err (the writer wraps every error of
// a job in receipts.ErrUnavailable: a conflict is not a database failure).
func plainErr(err error) error {
	for _, plain := range []error{receipts.ErrNotFound, receipts.ErrConflict} {
		if errors.Is(err, plain) {
			return plain
		}
	}
	return err
}

// operatorsChanged moves the operators' generation.
func operatorsChanged(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "UPDATE operator_generation SET n = n + 1 WHERE id = 1")
	return err
}

// CreateOperator stores o (see receipts.Operators): receipts.ErrConflict
// when an operator of that name exists.
func (s *Store) CreateOperator(ctx context.Context, o receipts.StoredOperator, at time.Time) (receipts.StoredOperator, error) {
	if err := o.Check(); err != nil {
		return receipts.StoredOperator{}, err
	}
	portals, _ := json.Marshal(o.Portals)
	o.CreatedAt = time.UnixMicro(at.UnixMicro()).UTC()
	o.UpdatedAt = o.CreatedAt
	err := s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		res, err := conn.ExecContext(ctx, `INSERT INTO operators (`+operatorColumns+`) VALUES ($1, $2, $3, $4, $4, $5)
			ON CONFLICT (name) DO NOTHING`, o.Name, o.TokenHash, string(portals), at.UnixMicro(), o.By)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmpErr(err, receipts.ErrConflict)
		}
		return operatorsChanged(ctx, conn)
	})
	if err != nil {
		return receipts.StoredOperator{}, plainErr(err)
	}
	return o, nil
}

// cmpErr returns err, or refusal when err is nil.
func cmpErr(err, refusal error) error {
	if err != nil {
		return err
	}
	return refusal
}

// UpdateOperator sets an operator's portals and/or token hash (see
// receipts.Operators): receipts.ErrNotFound when there is none.
func (s *Store) UpdateOperator(ctx context.Context, name string, portals []string, tokenHash, by string, at time.Time) (receipts.StoredOperator, error) {
	if err := receipts.CheckUpdate(name, portals, tokenHash, by); err != nil {
		return receipts.StoredOperator{}, err
	}
	var out receipts.StoredOperator
	err := s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		o, err := scanOperator(conn.QueryRowContext(ctx, "SELECT "+operatorColumns+" FROM operators WHERE name = $1", name))
		if errors.Is(err, sql.ErrNoRows) {
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
		o.By, o.UpdatedAt = by, time.UnixMicro(at.UnixMicro()).UTC()
		list, _ := json.Marshal(o.Portals)
		if _, err := conn.ExecContext(ctx, `UPDATE operators SET token_hash = $2, portals = $3, updated_at = $4, by_whom = $5
			WHERE name = $1`, name, o.TokenHash, string(list), at.UnixMicro(), by); err != nil {
			return err
		}
		out = o
		return operatorsChanged(ctx, conn)
	})
	if err != nil {
		return receipts.StoredOperator{}, plainErr(err)
	}
	return out, nil
}

// DeleteOperator removes an operator: receipts.ErrNotFound when there is
// none.
func (s *Store) DeleteOperator(ctx context.Context, name string) error {
	err := s.job(ctx, func(ctx context.Context, conn *sql.Conn) error {
		res, err := conn.ExecContext(ctx, "DELETE FROM operators WHERE name = $1", name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmpErr(err, receipts.ErrNotFound)
		}
		return operatorsChanged(ctx, conn)
	})
	return plainErr(err)
}

// StoredOperators returns every operator, by name.
func (s *Store) StoredOperators(ctx context.Context) ([]receipts.StoredOperator, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+operatorColumns+" FROM operators ORDER BY name")
	if err != nil {
		return nil, dbErr(ctx, err)
	}
	defer rows.Close()
	out := []receipts.StoredOperator{}
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, dbErr(ctx, err)
		}
		out = append(out, o)
	}
	return out, dbErr(ctx, rows.Err())
}

// OperatorGeneration returns the number moved by every change of the
// operators.
func (s *Store) OperatorGeneration(ctx context.Context) (int64, error) {
	var n int64
	err := s.rdb.QueryRowContext(ctx, "SELECT n FROM operator_generation WHERE id = 1").Scan(&n)
	return n, dbErr(ctx, err)
}
