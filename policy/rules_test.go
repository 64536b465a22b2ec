package policy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

func TestMatchName(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"_ga", "_ga", true},
		{"_ga", "_gat", false},
		{"_ga_*", "_ga_ABC123", true},
		{"_ga_*", "_ga_", true},
		{"_ga_*", "_ga", false},
		{"_pk_id.*", "_pk_id.1.1fff", true},
		{"_pk_id.*", "_pk_ses.1.1fff", false},
		{"*", "", true},
		{"*", "anything", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"*_id", "x_id", true},
		{"*_id", "x_idy", false},
		{"**", "x", true},
	} {
		if got := policy.MatchName(tc.pattern, tc.name); got != tc.want {
			t.Errorf("MatchName(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

// rulesFile is read by web/embed_test.js: the loader's rules must give Go's
// answers.
const rulesFile = "testdata/rule-vectors.json"

type ruleVectors struct {
	Comment string          `json:"comment"`
	Now     int64           `json:"now"`
	Policy  *policy.Policy  `json:"policy"`
	Names   []nameVector    `json:"names"`
	Cases   []consentVector `json:"cases"`
	Domains []domainVector  `json:"domains"`
}

type domainVector struct {
	Domain string `json:"domain"`
	Host   string `json:"host"`
	Want   string `json:"want"`
}

type nameVector struct {
	Pattern string `json:"pattern"`
	Name    string `json:"name"`
	Match   bool   `json:"match"`
}

type consentVector struct {
	Name     string            `json:"name"`
	Value    string            `json:"value"` // "" for no choice
	Present  []string          `json:"present"`
	Clear    []string          `json:"clear"`
	Signals  map[string]string `json:"signals"`
	Accepted map[string]bool   `json:"accepted"`
}

// rulesPolicy has a category granting signals, one granting none, a required
// one granting a non-core signal, and cookies with patterns shared across
// categories.
func rulesPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	p := *ps[0]
	p.Translations = nil // English only: its categories and cookies are its own
	p.Categories = []policy.Category{
		{ID: "necessary", Name: "Necessary", Description: "d", Required: true, Signals: []string{"security_storage"}},
		{ID: "statistical", Name: "Statistics", Description: "d", Signals: []string{"analytics_storage"}},
		{ID: "marketing", Name: "Marketing", Description: "d", Signals: []string{"ad_storage", "ad_user_data", "ad_personalization"}},
		{ID: "video", Name: "Video", Description: "d"},
	}
	row := func(cat string, names ...string) policy.Cookie {
		return policy.Cookie{Provider: "p", Function: "f", Purpose: "p", Duration: "d", Category: cat, Names: names}
	}
	p.Cookies = []policy.Cookie{
		row("necessary", "sessionid", "csrftoken"),
		row("statistical", "_pk_id.*", "_pk_ses.*", "_ga", "_ga_*"),
		row("marketing", "_gcl_*", "_ga_ADS"),
		row("video", "yt-*", "*_consent_probe"),
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestRuleVectors(t *testing.T) {
	p := rulesPolicy(t)
	now := time.Unix(1_790_000_000, 0)
	vf := ruleVectors{
		Comment: "Written by `go test ./policy -update` (rules_test.go): policy.MatchName, Policy.Accepts, Policy.ConsentMode and Policy.ToClear. web/embed.js must agree.",
		Now:     now.Unix(),
		Policy:  p,
	}
	for _, n := range []struct{ pattern, name string }{
		{"_ga", "_ga"}, {"_ga", "_gat"}, {"_ga_*", "_ga_X1"}, {"_ga_*", "_ga"},
		{"_pk_id.*", "_pk_id.1.abc"}, {"a*b*c", "acb"}, {"a*a", "a"}, {"*", ""},
		{"*_probe", "x_probe"}, {"x*", "X1"},
	} {
		vf.Names = append(vf.Names, nameVector{n.pattern, n.name, policy.MatchName(n.pattern, n.name)})
	}
	for _, d := range []struct{ domain, host string }{
		{"example.org", "example.org"}, {"example.org", "data.example.org"}, {"example.org", "Data.Example.ORG"},
		{"example.org", "badexample.org"}, {"example.org", "example.org.evil.net"}, {"example.org", "127.0.0.1"},
		{"", "example.org"}, {"data.example.org", "example.org"},
	} {
		vf.Domains = append(vf.Domains, domainVector{d.domain, d.host, policy.CookieDomainFor(d.domain, d.host)})
	}
	if got := policy.CookieDomainFor("example.org", "badexample.org"); got != "" {
		t.Errorf("CookieDomainFor(example.org, badexample.org) = %q", got)
	}
	if got := policy.CookieDomainFor("example.org", "a.example.org"); got != "example.org" {
		t.Errorf("CookieDomainFor(example.org, a.example.org) = %q", got)
	}
	present := []string{"sessionid", "cookies_preferences", "_pk_id.1.abc", "_pk_ses.1.abc", "_ga", "_ga_X1",
		"_ga_ADS", "_gcl_au", "yt-remote", "video_consent_probe", "portal_own", "_gat"}
	for _, tc := range []struct {
		name   string
		accept func(string) bool
	}{
		{"no choice", nil},
		{"all accepted", func(string) bool { return true }},
		{"all refused", func(string) bool { return false }},
		{"statistics only", func(id string) bool { return id == "statistical" }},
		{"marketing only", func(id string) bool { return id == "marketing" }},
		{"video only", func(id string) bool { return id == "video" }},
	} {
		v := consentVector{Name: tc.name, Present: present, Accepted: map[string]bool{}}
		var c *policy.Consent
		if tc.accept != nil {
			cc := policy.NewConsent(p, now, tc.accept)
			cc.ID = "q8B3x0aPq1V2LmN7rT4sYw" // the vectors stay the same from run to run
			c = &cc
			v.Value = cc.Encode()
			v.Clear = p.ToClear(cc, present)
		}
		v.Signals = p.ConsentMode(c)
		for _, cat := range p.Categories {
			v.Accepted[cat.ID] = p.Accepts(c, cat.ID)
		}
		vf.Cases = append(vf.Cases, v)
	}
	// Spot checks: the vectors are only as good as the rules.
	all, stats := vf.Cases[1], vf.Cases[3]
	if len(all.Clear) != 0 || all.Signals["ad_storage"] != "granted" || all.Signals["functionality_storage"] != "denied" {
		t.Errorf("all accepted: clear %v, signals %v", all.Clear, all.Signals)
	}
	// _ga_ADS is also a statistics cookie (_ga_*): kept.
	if want := []string{"_gcl_au", "yt-remote", "video_consent_probe"}; !reflect.DeepEqual(stats.Clear, want) {
		t.Errorf("statistics only clears %v, want %v", stats.Clear, want)
	}
	if stats.Signals["analytics_storage"] != "granted" || stats.Signals["security_storage"] != "granted" || stats.Signals["ad_storage"] != "denied" {
		t.Errorf("statistics only: signals %v", stats.Signals)
	}
	if refused := vf.Cases[2]; len(refused.Clear) != 8 || refused.Accepted["necessary"] != true {
		t.Errorf("all refused: clear %v, accepted %v", refused.Clear, refused.Accepted)
	}
	if none := vf.Cases[0]; none.Signals["security_storage"] != "denied" {
		t.Errorf("no choice grants %v", none.Signals)
	}

	got, err := json.MarshalIndent(vf, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(rulesFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatalf("%v (run `go test ./policy -update`)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run `go test ./policy -update`", rulesFile)
	}
}
