package policy_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

const (
	testID    = "q8B3x0aPq1V2LmN7rT4sYw"
	testValue = "1|3|1732300000|" + testID + "|necessary=1/statistical=0"
)

func TestDecode(t *testing.T) {
	// value returns testValue with field i replaced by s.
	value := func(i int, s string) string {
		f := strings.Split(testValue, "|")
		f[i] = s
		return strings.Join(f, "|")
	}
	tests := []struct {
		name string
		in   string
		want policy.Consent
		err  error
	}{
		{"valid", testValue, policy.Consent{
			Version: 1, Revision: 3, Decided: time.Unix(1732300000, 0).UTC(), ID: testID,
			Choices: []policy.Choice{{policy.Necessary, true}, {policy.Statistical, false}},
		}, nil},
		{"one category", value(4, "a=1"), policy.Consent{
			Version: 1, Revision: 3, Decided: time.Unix(1732300000, 0).UTC(), ID: testID,
			Choices: []policy.Choice{{"a", true}},
		}, nil},

		{"empty", "", policy.Consent{}, policy.ErrMissing},
		{"oversized", testValue + "/" + strings.Repeat("a", policy.MaxValueLen), policy.Consent{}, policy.ErrOversized},
		{"MaxValueLen is allowed", ("1|" + strings.Repeat("a", policy.MaxValueLen))[:policy.MaxValueLen], policy.Consent{}, policy.ErrMalformed},

		{"word", "abc", policy.Consent{}, policy.ErrForeign},
		{"bool", "true", policy.Consent{}, policy.ErrForeign},
		{"json", `{"necessary":true}`, policy.Consent{}, policy.ErrForeign},
		{"version 0", value(0, "0"), policy.Consent{}, policy.ErrForeign},
		{"version 01", value(0, "01"), policy.Consent{}, policy.ErrForeign},
		{"version +1", value(0, "+1"), policy.Consent{}, policy.ErrForeign},
		{"negative version", value(0, "-1"), policy.Consent{}, policy.ErrForeign},
		{"huge version", value(0, "99999999999999999999"), policy.Consent{}, policy.ErrForeign},
		{"version alone", "1", policy.Consent{}, policy.ErrForeign},

		{"version 2", value(0, "2"), policy.Consent{}, policy.ErrVersion},
		{"version 2 other layout", "2|x", policy.Consent{}, policy.ErrVersion},

		{"4 fields", "1|3|1732300000|" + testID, policy.Consent{}, policy.ErrMalformed},
		{"6 fields", testValue + "|", policy.Consent{}, policy.ErrMalformed},
		{"2 fields", "1|3", policy.Consent{}, policy.ErrMalformed},
		{"empty revision", value(1, ""), policy.Consent{}, policy.ErrMalformed},
		{"revision 0", value(1, "0"), policy.Consent{}, policy.ErrMalformed},
		{"revision -1", value(1, "-1"), policy.Consent{}, policy.ErrMalformed},
		{"revision 01", value(1, "01"), policy.Consent{}, policy.ErrMalformed},
		{"revision +1", value(1, "+1"), policy.Consent{}, policy.ErrMalformed},
		{"revision 1.5", value(1, "1.5"), policy.Consent{}, policy.ErrMalformed},
		{"revision 2^53", value(1, "9007199254740992"), policy.Consent{}, policy.ErrMalformed},
		{"empty time", value(2, ""), policy.Consent{}, policy.ErrMalformed},
		{"time 0", value(2, "0"), policy.Consent{}, policy.ErrMalformed},
		{"negative time", value(2, "-1732300000"), policy.Consent{}, policy.ErrMalformed},
		{"fractional time", value(2, "1732300000.5"), policy.Consent{}, policy.ErrMalformed},
		{"RFC 3339 time", value(2, "2024-11-22T18:26:40Z"), policy.Consent{}, policy.ErrMalformed},
		{"short id", value(3, testID[1:]), policy.Consent{}, policy.ErrMalformed},
		{"long id", value(3, testID+"A"), policy.Consent{}, policy.ErrMalformed},
		{"empty id", value(3, ""), policy.Consent{}, policy.ErrMalformed},
		{"std base64 id", value(3, "q8B3x0aPq1V2LmN7rT4s+/"), policy.Consent{}, policy.ErrMalformed},
		{"padded id", value(3, "q8B3x0aPq1V2LmN7rT4s=="), policy.Consent{}, policy.ErrMalformed},
		{"no flag", value(4, "necessary"), policy.Consent{}, policy.ErrMalformed},
		{"flag 2", value(4, "necessary=2"), policy.Consent{}, policy.ErrMalformed},
		{"flag true", value(4, "necessary=true"), policy.Consent{}, policy.ErrMalformed},
		{"empty flag", value(4, "necessary="), policy.Consent{}, policy.ErrMalformed},
		{"uppercase category", value(4, "Necessary=1"), policy.Consent{}, policy.ErrMalformed},
		{"empty category", value(4, "=1"), policy.Consent{}, policy.ErrMalformed},
		{"duplicate category", value(4, "necessary=1/necessary=0"), policy.Consent{}, policy.ErrMalformed},
		{"empty choices", value(4, ""), policy.Consent{}, policy.ErrMalformed},
		{"trailing slash", value(4, "necessary=1/"), policy.Consent{}, policy.ErrMalformed},
		{"empty choice", value(4, "necessary=1//statistical=0"), policy.Consent{}, policy.ErrMalformed},
		{"comma separator", value(4, "necessary=1,statistical=0"), policy.Consent{}, policy.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := policy.Decode(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Decode(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	p := defaultPolicy(t, "mtran")
	p.Revision = 3
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	lifetime := time.Duration(p.Lifetime()) * 24 * time.Hour
	choices := func(s ...policy.Choice) func(*policy.Consent) {
		return func(c *policy.Consent) { c.Choices = s }
	}
	decided := func(d time.Time) func(*policy.Consent) {
		return func(c *policy.Consent) { c.Decided = d }
	}
	tests := []struct {
		name   string
		mutate func(*policy.Consent)
		err    error
	}{
		{"ok", func(*policy.Consent) {}, nil},
		{"all accepted", choices(policy.Choice{policy.Necessary, true}, policy.Choice{policy.Statistical, true}), nil},
		{"other order", choices(policy.Choice{policy.Statistical, false}, policy.Choice{policy.Necessary, true}), nil},
		{"older revision", func(c *policy.Consent) { c.Revision = 2 }, policy.ErrRevision},
		{"newer revision", func(c *policy.Consent) { c.Revision = 4 }, policy.ErrRevision},
		{"at the lifetime", decided(now.Add(-lifetime)), nil},
		{"past the lifetime", decided(now.Add(-lifetime - time.Second)), policy.ErrExpired},
		{"a day ahead", decided(now.Add(24 * time.Hour)), nil},
		{"over a day ahead", decided(now.Add(24*time.Hour + time.Second)), policy.ErrExpired},
		{"missing category", choices(policy.Choice{policy.Necessary, true}), policy.ErrMismatch},
		{"no choices", choices(), policy.ErrMismatch},
		{"duplicate instead of missing", choices(policy.Choice{policy.Necessary, true}, policy.Choice{policy.Necessary, true}), policy.ErrMismatch},
		{"unknown category", choices(policy.Choice{policy.Necessary, true}, policy.Choice{"ads", false}), policy.ErrMismatch},
		{"extra category", choices(policy.Choice{policy.Necessary, true}, policy.Choice{policy.Statistical, false}, policy.Choice{"ads", false}), policy.ErrMismatch},
		{"required refused", choices(policy.Choice{policy.Necessary, false}, policy.Choice{policy.Statistical, false}), policy.ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := policy.Consent{
				Version: 1, Revision: 3, Decided: now.Add(-time.Hour), ID: testID,
				Choices: []policy.Choice{{policy.Necessary, true}, {policy.Statistical, false}},
			}
			tt.mutate(&c)
			if err := c.Check(p, now); !errors.Is(err, tt.err) {
				t.Errorf("Check = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestNewConsentRoundTrip(t *testing.T) {
	p := defaultPolicy(t, "mtran")
	now := time.Date(2025, 6, 1, 12, 30, 45, 999_999_999, time.UTC)
	tests := []struct {
		name   string
		accept func(string) bool
		stats  bool
	}{
		{"accept all", func(string) bool { return true }, true},
		{"reject all", nil, false},
		{"reject everything, even necessary", func(string) bool { return false }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := policy.NewConsent(p, now, tt.accept)
			if !c.Decided.Equal(now.Truncate(time.Second)) || c.Revision != p.Revision || c.Version != policy.FormatVersion {
				t.Errorf("NewConsent = %+v", c)
			}
			if !c.Accepted(policy.Necessary) || c.Accepted(policy.Statistical) != tt.stats || c.Accepted("ads") {
				t.Errorf("Accepted: necessary %v, statistical %v (want %v), ads %v",
					c.Accepted(policy.Necessary), c.Accepted(policy.Statistical), tt.stats, c.Accepted("ads"))
			}
			got, err := policy.Current(c.Encode(), p, now)
			if err != nil {
				t.Fatalf("Current(%q): %v", c.Encode(), err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
			}
		})
	}
}

func TestNewConsentID(t *testing.T) {
	a, b := policy.NewConsentID(), policy.NewConsentID()
	for _, id := range []string{a, b} {
		raw, err := base64.RawURLEncoding.Strict().DecodeString(id)
		if len(id) != 22 || err != nil || len(raw) != 16 {
			t.Errorf("NewConsentID() = %q (%d bytes, %v), want 16 bytes in 22 base64url characters", id, len(raw), err)
		}
	}
	if a == b {
		t.Errorf("NewConsentID() returned %q twice", a)
	}
}

func TestCookieValue(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"among junk", "a=b; cookies_preferences=X; c", "X"},
		{"alone", "cookies_preferences=" + testValue, testValue},
		{"no spaces", "a=b;cookies_preferences=X;c=d", "X"},
		{"stray spaces", "a=b;  cookies_preferences =  X  ;c=d", "X"},
		{"first wins", "cookies_preferences=first; cookies_preferences=second", "first"},
		{"quoted", `a=1; cookies_preferences="X"; b=2`, "X"},
		{"lone quote kept", `cookies_preferences="`, `"`},
		{"equals in value", "cookies_preferences=a=b", "a=b"},
		{"absent", "a=b; c=d", ""},
		{"prefix of another name", "xcookies_preferences=1; cookies_preferences_old=2", ""},
		{"prefix, then the cookie", "xcookies_preferences=1; cookies_preferences=2", "2"},
		{"name without value", "cookies_preferences; b=2", ""},
		{"empty value", "cookies_preferences=; cookies_preferences=X", ""},
		{"empty line", "", ""},
	}
	for _, tt := range tests {
		if got := policy.CookieValue(tt.line, policy.CookieName); got != tt.want {
			t.Errorf("%s: CookieValue(%q) = %q, want %q", tt.name, tt.line, got, tt.want)
		}
	}
}

func TestSetCookie(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*60*60))
	tests := []struct {
		name   string
		secure bool
		domain string
		want   map[string]string // attributes but Expires
	}{
		{"plain", false, "", map[string]string{"Path": "/", "Max-Age": "15724800", "SameSite": "Lax"}},
		{"secure", true, "", map[string]string{"Path": "/", "Max-Age": "15724800", "SameSite": "Lax", "Secure": ""}},
		{"domain", true, "example.com", map[string]string{"Path": "/", "Domain": "example.com", "Max-Age": "15724800", "SameSite": "Lax", "Secure": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := policy.SetCookie(testValue, 182, now, tt.secure, tt.domain)
			if !strings.HasPrefix(s, "cookies_preferences="+testValue+"; Path=/;") {
				t.Errorf("SetCookie = %q, want it to start with the value and Path=/", s)
			}
			parts := strings.Split(s, "; ")
			attrs := map[string]string{}
			for _, a := range parts[1:] {
				k, v, _ := strings.Cut(a, "=")
				attrs[k] = v
			}
			expires, err := http.ParseTime(attrs["Expires"])
			if err != nil || !strings.HasSuffix(attrs["Expires"], " GMT") {
				t.Errorf("Expires=%q: %v", attrs["Expires"], err)
			} else if want := now.Add(182 * 24 * time.Hour); !expires.Equal(want) {
				t.Errorf("Expires = %v, want %v", expires, want)
			}
			delete(attrs, "Expires")
			if !reflect.DeepEqual(attrs, tt.want) {
				t.Errorf("SetCookie = %q\nattributes %v, want %v", s, attrs, tt.want)
			}
		})
	}
}

func ExampleConsent_Encode() {
	c := policy.Consent{
		Version:  policy.FormatVersion,
		Revision: 3,
		Decided:  time.Date(2024, 11, 22, 18, 26, 40, 0, time.UTC),
		ID:       "q8B3x0aPq1V2LmN7rT4sYw",
		Choices: []policy.Choice{
			{Category: policy.Necessary, Accepted: true},
			{Category: policy.Statistical, Accepted: false},
		},
	}
	v := c.Encode()
	fmt.Println(v)

	d, err := policy.Decode(v)
	fmt.Println(d.Decided.Format(time.RFC3339), d.Accepted(policy.Statistical), err)
	// Output:
	// 1|3|1732300000|q8B3x0aPq1V2LmN7rT4sYw|necessary=1/statistical=0
	// 2024-11-22T18:26:40Z false <nil>
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		testValue, "1|1|1|AAAAAAAAAAAAAAAAAAAAAA|a=0", "", "abc", "01|x", "2|x", "1|3|1732300000|" + testID,
		"1|01|1732300000|" + testID + "|necessary=1", "1|3|1732300000|" + testID + "|necessary=1/necessary=1",
		"1|9007199254740991|9007199254740991|" + testID + "|a-b_c=1/z=0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := policy.Decode(in)
		if err != nil {
			for _, e := range []error{policy.ErrMissing, policy.ErrOversized, policy.ErrForeign, policy.ErrVersion, policy.ErrMalformed} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("Decode(%q) = unexpected error %v", in, err)
		}
		if out := c.Encode(); out != in {
			t.Fatalf("Decode(%q).Encode() = %q: the decoder accepts a non-canonical value", in, out)
		}
	})
}

// TestKeptID: a readable cookie's id goes on (older revision, expired), an
// unreadable one gets a fresh random id.
func TestKeptID(t *testing.T) {
	p := &policy.Policy{Revision: 3, Categories: []policy.Category{{ID: "necessary", Required: true}, {ID: "stats"}}}
	old := policy.NewConsent(p, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), nil)
	old.Revision = 1
	if got := policy.KeptID(old.Encode()); got != old.ID {
		t.Errorf("KeptID(an old, expired value) = %q, want %q", got, old.ID)
	}
	seen := map[string]bool{}
	for _, v := range []string{"", "garbage", "2|x|y", strings.Repeat("a", policy.MaxValueLen+1)} {
		id := policy.KeptID(v)
		if len(id) != 22 || seen[id] || id == old.ID {
			t.Errorf("KeptID(%q) = %q, want a new random id", v, id)
		}
		seen[id] = true
	}
}
