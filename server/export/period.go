package export

import (
	"fmt"
	"net/url"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
)

// DefaultDays is the period asked with neither from nor to: the last 30
// UTC days, today included.
const DefaultDays = 30

// Period is the UTC instants [From 00:00, To 00:00): To is the day after
// the last day asked.
type Period struct{ From, To time.Time }

// Last returns the last day of p (to, inclusive, as asked).
func (p Period) Last() time.Time { return p.To.AddDate(0, 0, -1) }

// Days returns how many days p spans.
func (p Period) Days() int { return int(p.To.Sub(p.From) / (24 * time.Hour)) }

// Problem is what is wrong with a period asked.
type Problem int

// Problems of a period.
const (
	NotDate  Problem = iota // a field missing or not YYYY-MM-DD
	Reversed                // to is before from
	TooLong                 // over the route's maximum of days
)

// PeriodError is a period refused: the problem, the field ("from" or "to")
// and its value for NotDate, the days asked and the maximum for TooLong.
// Error is its English message; the console words it in its own language.
type PeriodError struct {
	Problem   Problem
	Field     string
	Value     string
	Days, Max int
}

func (e *PeriodError) Error() string {
	switch e.Problem {
	case Reversed:
		return "from is after to"
	case TooLong:
		return fmt.Sprintf("the period is over %d days", e.Max)
	}
	return fmt.Sprintf("%s: %q is not a date YYYY-MM-DD", e.Field, respond.Clip(e.Value, 32))
}

// ParsePeriod returns the period of q's from and to (YYYY-MM-DD, UTC days,
// inclusive): with neither, the last DefaultDays days (now's UTC day last).
// One without the other, a malformed date, from after to, or more than
// maxDays days (0: no maximum) is a *PeriodError.
func ParsePeriod(q url.Values, now time.Time, maxDays int) (Period, error) {
	if !q.Has("from") && !q.Has("to") {
		to := receipts.Day(now).AddDate(0, 0, 1)
		return Period{to.AddDate(0, 0, -DefaultDays), to}, nil
	}
	var days [2]time.Time
	for i, k := range []string{"from", "to"} {
		v := q.Get(k)
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return Period{}, &PeriodError{Problem: NotDate, Field: k, Value: v}
		}
		days[i] = d
	}
	if days[1].Before(days[0]) {
		return Period{}, &PeriodError{Problem: Reversed}
	}
	p := Period{days[0], days[1].AddDate(0, 0, 1)}
	if maxDays > 0 && p.Days() > maxDays {
		return Period{}, &PeriodError{Problem: TooLong, Days: p.Days(), Max: maxDays}
	}
	return p, nil
}
