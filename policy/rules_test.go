package policy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
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
	// Undeclared: policy.Policy.Undeclared of each line.
	Undeclared []undeclaredVector `json:"undeclared"`
	// UndeclaredStorage: policy.Policy.UndeclaredIn of each list of keys.
	UndeclaredStorage []storageVector `json:"undeclaredStorage"`
}

type storageVector struct {
	Type string   `json:"type"`
	Keys []string `json:"keys"`
	Want []string `json:"want"`
}

type undeclaredVector struct {
	Line string   `json:"line"`
	Want []string `json:"want"`
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
	Name    string   `json:"name"`
	Value   string   `json:"value"` // "" for no choice
	Present []string `json:"present"`
	Clear   []string `json:"clear"`
	// StoragePresent are keys of web storage and IndexedDB names;
	// ClearStorage is Policy.ToClearIn of them for each storage type.
	StoragePresent []string            `json:"storagePresent,omitempty"`
	ClearStorage   map[string][]string `json:"clearStorage,omitempty"`
	Signals        map[string]string   `json:"signals"`
	Accepted       map[string]bool     `json:"accepted"`
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
	storage := func(c policy.Cookie, typ string) policy.Cookie {
		c.Type = typ
		return c
	}
	p.Cookies = []policy.Cookie{
		row("necessary", "sessionid", "csrftoken"),
		row("statistical", "_pk_id.*", "_pk_ses.*", "_ga", "_ga_*"),
		row("marketing", "_gcl_*", "_ga_ADS"),
		row("video", "yt-*", "*_consent_probe"),
		storage(row("statistical", "_pk_id.*", "matomo_*"), policy.TypeLocalStorage),
		storage(row("video", "yt-player-*", "ytidb::*"), policy.TypeLocalStorage),
		storage(row("marketing", "ads_session"), policy.TypeSessionStorage),
		storage(row("video", "YtIdbMeta*", "yt-player-local-media"), policy.TypeIndexedDB),
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
		Comment: "Written by `go test ./policy -update` (rules_test.go): policy.MatchName, Policy.Accepts, Policy.ConsentMode, Policy.ToClear and Policy.Undeclared. web/embed.js and web/ui.js must agree.",
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
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("t%02d=1", i)
	}
	long := strings.Repeat("n", policy.MaxCookieNameBytes)
	for _, line := range []string{
		"",
		"sessionid=1; cookies_preferences=1|2; _ga=GA1; _ga_X1=2; _pk_id.1.abc=3; yt-remote=4; x_consent_probe=5",
		"mystery_tracker=1; _gat=1; sessionid=2; portal_own=x; mystery_tracker=2",
		"  spaced  =1;tight=2;=nameless;novalue;a=b=c",
		"bad name=1; bad,name=1; bad\"q=1; ok!#$%&'+-.^_`|~=1; été=1; (x)=1; a/b=1; [c]=1; {d}=1; @e=1",
		"\u00a0nbsp\u3000=1; \ufeffbom=1; \u0085nel=1; tab\t=1",
		long + "=1; " + long + "x=1",
		strings.Join(many, "; "),
		// Declared, but only as web storage: undeclared as cookies.
		"matomo_x=1; ads_session=2",
		"Sessionid=1; SESSIONID=2; _GA=3",
		"star*=1; *=2; a*b=3; plain=4",
	} {
		vf.Undeclared = append(vf.Undeclared, undeclaredVector{line, p.Undeclared(line)})
	}
	// Spot checks.
	if got, want := vf.Undeclared[2].Want, []string{"mystery_tracker", "_gat", "portal_own"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Undeclared(%q) = %q, want %q", vf.Undeclared[2].Line, got, want)
	}
	if got, want := vf.Undeclared[3].Want, []string{"spaced", "tight", "a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Undeclared(%q) = %q, want %q", vf.Undeclared[3].Line, got, want)
	}
	if got := vf.Undeclared[4].Want; !reflect.DeepEqual(got, []string{"ok!#$%&'+-.^_`|~"}) {
		t.Errorf("Undeclared of invalid names = %q", got)
	}
	if got, last := vf.Undeclared[len(vf.Undeclared)-1], []string{"plain"}; !reflect.DeepEqual(got.Want, last) {
		t.Errorf("Undeclared(%q) = %q, want %q: a name holding a pattern character is never reported", got.Line, got.Want, last)
	}
	// Trimmed as JavaScript's trim() does: U+00A0, U+3000, U+FEFF, tab; not U+0085.
	if got := vf.Undeclared[5].Want; !reflect.DeepEqual(got, []string{"nbsp", "bom", "tab"}) {
		t.Errorf("Undeclared with Unicode spaces = %q", got)
	}
	if got := vf.Undeclared[6].Want; !reflect.DeepEqual(got, []string{long}) {
		t.Errorf("Undeclared of long names = %q", got)
	}
	if got := vf.Undeclared[7].Want; len(got) != policy.MaxUndeclared || got[0] != "t00" || got[31] != "t31" {
		t.Errorf("Undeclared of 40 names = %q", got)
	}
	if len(vf.Undeclared[0].Want) != 0 || len(vf.Undeclared[1].Want) != 0 {
		t.Errorf("declared names reported: %q, %q", vf.Undeclared[0].Want, vf.Undeclared[1].Want)
	}

	for _, u := range []struct {
		typ  string
		keys []string
	}{
		{policy.TypeLocalStorage, nil},
		{policy.TypeLocalStorage, []string{"_pk_id.1.abc", "matomo_x", "yt-player-volume", "ytidb::LAST", "app_state", "_ga", "app_state", "ads_session"}},
		{policy.TypeSessionStorage, []string{"ads_session", "_pk_id.1", "tab:state", "a b", "x(1)", "q\"", "semi;colon", "star*", "", long, long + "x", "été"}},
		{policy.TypeLocalStorage, many},
	} {
		vf.UndeclaredStorage = append(vf.UndeclaredStorage, storageVector{u.typ, u.keys, p.UndeclaredIn(u.typ, u.keys)})
	}
	if got, want := vf.UndeclaredStorage[1].Want, []string{"app_state", "_ga", "ads_session"}; !reflect.DeepEqual(got, want) {
		t.Errorf("UndeclaredIn(localStorage) = %q, want %q: a cookie or sessionStorage row declares no localStorage key", got, want)
	}
	if got, want := vf.UndeclaredStorage[2].Want, []string{"_pk_id.1", "tab:state", long}; !reflect.DeepEqual(got, want) {
		t.Errorf("UndeclaredIn(sessionStorage) = %q, want %q", got, want)
	}
	if got := vf.UndeclaredStorage[3].Want; len(got) != policy.MaxUndeclared {
		t.Errorf("UndeclaredIn of 40 keys = %d names", len(got))
	}

	// The keys and database names of the page's storage, for
	// Policy.ToClearIn of each storage type.
	storagePresent := []string{"_pk_id.1.abc", "matomo_x", "yt-player-volume", "ytidb::LAST", "ads_session", "app_state", "YtIdbMeta", "yt-player-local-media", "sessionid"}
	present := []string{"sessionid", "cookies_preferences", "_pk_id.1.abc", "_pk_ses.1.abc", "_ga", "_ga_X1",
		"_ga_ADS", "_gcl_au", "yt-remote", "video_consent_probe", "portal_own", "_gat", "matomo_x", "ads_session"}
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
			v.StoragePresent, v.ClearStorage = storagePresent, map[string][]string{}
			for _, typ := range policy.StorageTypes[1:] {
				v.ClearStorage[typ] = p.ToClearIn(typ, cc, storagePresent)
			}
		}
		v.Signals = p.ConsentMode(c)
		for _, cat := range p.Categories {
			v.Accepted[cat.ID] = p.Accepts(c, cat.ID)
		}
		vf.Cases = append(vf.Cases, v)
	}
	if got, want := vf.Cases[3].ClearStorage, map[string][]string{
		policy.TypeLocalStorage: {"yt-player-volume", "ytidb::LAST", "yt-player-local-media"}, policy.TypeSessionStorage: {"ads_session"}, policy.TypeIndexedDB: {"YtIdbMeta", "yt-player-local-media"},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("statistics only clears storage %q, want %q", got, want)
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

func TestValidCookieName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"_ga", true}, {"_pk_id.1.abc", true}, {"ok!#$%&'*+-.^_`|~", true}, {"A9", true},
		{strings.Repeat("x", policy.MaxCookieNameBytes), true},
		{strings.Repeat("x", policy.MaxCookieNameBytes+1), false},
		{"", false}, {"a b", false}, {"a\tb", false}, {"a=b", false}, {"a;b", false}, {"a,b", false},
		{`a"b`, false}, {"a/b", false}, {"(a)", false}, {"<a>", false}, {"a@b", false}, {"a:b", false},
		{`a\b`, false}, {"[a]", false}, {"a?", false}, {"{a}", false}, {"été", false}, {"a\x7f", false}, {"a\x00", false},
	} {
		if got := policy.ValidCookieName(tc.name); got != tc.want {
			t.Errorf("ValidCookieName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
