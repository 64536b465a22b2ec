package export

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

// TestParsePeriod is the one period parser of the API and the console.
func TestParsePeriod(t *testing.T) {
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	for _, tt := range []struct {
		query    string
		max      int
		from, to string // the period asked: first and last day
		problem  Problem
		field    string
		msg      string
	}{
		{query: "", from: "2026-02-02", to: "2026-03-03"},
		{query: "from=2026-03-01&to=2026-03-01", from: "2026-03-01", to: "2026-03-01"},
		{query: "from=2025-01-01&to=2026-03-03", max: 3660, from: "2025-01-01", to: "2026-03-03"},
		{query: "from=2026-03-01", problem: NotDate, field: "to", msg: `to: "" is not a date YYYY-MM-DD`},
		{query: "to=2026-03-01", problem: NotDate, field: "from", msg: `from: "" is not a date YYYY-MM-DD`},
		{query: "from=2026-3-1&to=2026-03-01", problem: NotDate, field: "from", msg: `from: "2026-3-1" is not a date YYYY-MM-DD`},
		{query: "from=2026-03-02&to=2026-03-01", problem: Reversed, msg: "from is after to"},
		{query: "from=2025-01-01&to=2026-03-03", max: 366, problem: TooLong, msg: "the period is over 366 days"},
		{query: "from=2026-01-01&to=2026-01-31", max: 31, from: "2026-01-01", to: "2026-01-31"},
		{query: "from=2026-01-01&to=2026-02-01", max: 31, problem: TooLong, msg: "the period is over 31 days"},
	} {
		q, _ := url.ParseQuery(tt.query)
		p, err := ParsePeriod(q, now, tt.max)
		if tt.msg != "" {
			e, ok := errors.AsType[*PeriodError](err)
			if !ok || e.Problem != tt.problem || e.Field != tt.field || err.Error() != tt.msg {
				t.Errorf("%q: err = %#v, want problem %d field %q %q", tt.query, err, tt.problem, tt.field, tt.msg)
			}
			continue
		}
		if err != nil || !p.From.Equal(day(tt.from)) || !p.Last().Equal(day(tt.to)) || !p.To.Equal(day(tt.to).AddDate(0, 0, 1)) {
			t.Errorf("%q: %v to %v (%v), want %s to %s", tt.query, p.From, p.Last(), err, tt.from, tt.to)
		}
	}
}
