package policy_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

// defaultPolicy returns the default policy with the given id.
func defaultPolicy(t testing.TB, id string) *policy.Policy {
	t.Helper()
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatalf("Defaults: %v", err)
	}
	for _, p := range ps {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("no default policy %q", id)
	return nil
}

// withLanguages returns a deep copy of p offered only in its default
// language and in langs, for the tests that break a translation by index.
func withLanguages(t testing.TB, p *policy.Policy, langs ...string) *policy.Policy {
	t.Helper()
	q := clonePolicy(t, p)
	q.Translations = slices.DeleteFunc(q.Translations, func(tr policy.Translation) bool { return !slices.Contains(langs, tr.Texts.Lang) })
	if len(q.Translations) != len(langs) {
		t.Fatalf("%s is not offered in all of %q", p.ID, langs)
	}
	return q
}

// clonePolicy returns a deep copy of p, so that a test can break it freely.
func clonePolicy(t testing.TB, p *policy.Policy) *policy.Policy {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q policy.Policy
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	return &q
}

func TestDefaults(t *testing.T) {
	ps, err := policy.Defaults()
	if err != nil {
		t.Fatalf("Defaults: %v", err)
	}
	want := map[string]string{
		"mtran":  "https://mtran.my.opendatasoft.com",
		"twisto": "https://twisto.opendatasoft.com",
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	if !slices.Equal(ids, []string{"mtran", "twisto"}) {
		t.Fatalf("ids = %q, want [mtran twisto]", ids)
	}
	for _, p := range ps {
		if p.URL != want[p.ID] {
			t.Errorf("%s: URL = %q, want %q", p.ID, p.URL, want[p.ID])
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", p.ID, err)
		}
		var cats []string
		for _, c := range p.Categories {
			cats = append(cats, c.ID)
		}
		if !slices.Equal(cats, []string{policy.Necessary, policy.Statistical}) {
			t.Errorf("%s: categories = %q", p.ID, cats)
		}
		if nec, _ := p.Category(policy.Necessary); !nec.Required {
			t.Errorf("%s: necessary is not required", p.ID)
		}
		if opt := p.Optional(); len(opt) != 1 || opt[0].ID != policy.Statistical {
			t.Errorf("%s: Optional() = %+v, want statistical only", p.ID, opt)
		}
		var names []string
		for _, c := range p.Cookies {
			names = append(names, c.Names...)
		}
		for _, n := range []string{"sessionid", "django_language", "csrftoken", policy.CookieName} {
			if !slices.Contains(names, n) {
				t.Errorf("%s: cookie table lacks %s", p.ID, n)
			}
		}
		if len(p.Texts.Sections) == 0 || p.Texts.Sections[0].Title != "What is a cookie?" ||
			!strings.HasPrefix(p.Texts.Sections[0].Paragraphs[0], "A cookie is a generally small piece of data") {
			t.Errorf("%s: first section = %+v", p.ID, p.Texts.Sections)
		}
		if got, want := p.CookiesTitle(), "What cookies are used on the "+want[p.ID]+" platform"; got != want {
			t.Errorf("%s: CookiesTitle() = %q, want %q", p.ID, got, want)
		}
	}
}

func TestLifetime(t *testing.T) {
	for _, tt := range []struct{ days, want int }{{0, policy.DefaultLifetimeDays}, {30, 30}} {
		p := policy.Policy{LifetimeDays: tt.days}
		if got := p.Lifetime(); got != tt.want {
			t.Errorf("Lifetime() with LifetimeDays %d = %d, want %d", tt.days, got, tt.want)
		}
	}
}

// TestLifetimeOf: a refusal (nothing optional accepted) is kept for the
// refusal lifetime when the policy sets one, any other choice for the
// policy's lifetime; with no refusal lifetime, every choice for the latter.
func TestLifetimeOf(t *testing.T) {
	p := clonePolicy(t, defaultPolicy(t, "mtran"))
	p.LifetimeDays = 182
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	refusal := policy.NewConsent(p, at, nil)
	acceptance := policy.NewConsent(p, at, func(string) bool { return true })
	if p.LifetimeOf(refusal) != 182 || p.LifetimeOf(acceptance) != 182 {
		t.Errorf("without refusalLifetimeDays: %d, %d", p.LifetimeOf(refusal), p.LifetimeOf(acceptance))
	}
	p.RefusalLifetimeDays = 365
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.LifetimeOf(refusal) != 365 || p.LifetimeOf(acceptance) != 182 {
		t.Errorf("with refusalLifetimeDays 365: refusal %d, acceptance %d", p.LifetimeOf(refusal), p.LifetimeOf(acceptance))
	}
	// One optional category accepted is not a refusal; an unknown one
	// accepted counts as optional.
	one := policy.NewConsent(p, at, func(id string) bool { return id == policy.Statistical })
	unknown := refusal
	unknown.Choices = append(slices.Clone(refusal.Choices), policy.Choice{Category: "ads", Accepted: true})
	if p.LifetimeOf(one) != 182 || p.LifetimeOf(unknown) != 182 {
		t.Errorf("one category accepted: %d; an unknown one: %d; want 182", p.LifetimeOf(one), p.LifetimeOf(unknown))
	}
	// Asked again: an acceptance after its lifetime, a refusal after its own.
	later := at.Add(300 * 24 * time.Hour)
	if err := acceptance.Check(p, later); !errors.Is(err, policy.ErrExpired) {
		t.Errorf("acceptance after 300 days: %v, want ErrExpired", err)
	}
	if err := refusal.Check(p, later); err != nil {
		t.Errorf("refusal after 300 days: %v, want valid", err)
	}
	if err := refusal.Check(p, at.Add(366*24*time.Hour)); !errors.Is(err, policy.ErrExpired) {
		t.Errorf("refusal after 366 days: %v, want ErrExpired", err)
	}
}

func TestValidID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"a", true},
		{"ab_c-9", true},
		{"0abc", true},
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), false},
		{"", false},
		{"_a", false},
		{"-a", false},
		{"Abc", false},
		{"a b", false},
		{"a\n", false},
	} {
		if got := policy.ValidID(tt.in); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *policy.Policy)
		field  string // "" means valid
	}{
		{"default", func(p *policy.Policy) {}, ""},
		{"default lifetime", func(p *policy.Policy) { p.LifetimeDays = 0 }, ""},
		{"max lifetime", func(p *policy.Policy) { p.LifetimeDays = 395 }, ""},
		{"no cookies", func(p *policy.Policy) {
			p.Cookies = nil
			for i := range p.Translations {
				p.Translations[i].Cookies = nil
			}
		}, ""},
		{"no sections", func(p *policy.Policy) { p.Texts.Sections = nil }, ""},
		{"http url", func(p *policy.Policy) { p.URL = "http://portal.example" }, ""},
		{"cookie domain", func(p *policy.Policy) { p.CookieDomain = "opendatasoft.com" }, ""},
		{"cookie domain with a leading dot", func(p *policy.Policy) { p.CookieDomain = ".opendatasoft.com" }, "cookieDomain"},
		{"cookie domain with a port", func(p *policy.Policy) { p.CookieDomain = "example.org:443" }, "cookieDomain"},
		{"cookie domain uppercase", func(p *policy.Policy) { p.CookieDomain = "Example.org" }, "cookieDomain"},
		{"cookie domain of one label", func(p *policy.Policy) { p.CookieDomain = "localhost" }, "cookieDomain"},
		{"cookie domain with an attribute", func(p *policy.Policy) { p.CookieDomain = "example.org; Secure" }, "cookieDomain"},
		{"signal unknown", func(p *policy.Policy) { p.Categories[1].Signals = []string{"analytics"} }, "categories[1].signals[0]"},
		{"cookie path without a slash", func(p *policy.Policy) { p.Cookies[0].Paths = []string{"sub"} }, "cookies[0].paths[0]"},
		{"cookie path with a semicolon", func(p *policy.Policy) { p.Cookies[0].Paths = []string{"/a;b"} }, "cookies[0].paths[0]"},

		{"bad id", func(p *policy.Policy) { p.ID = "MTRAN" }, "id"},
		{"empty id", func(p *policy.Policy) { p.ID = "" }, "id"},
		{"blank name", func(p *policy.Policy) { p.Name = " \t" }, "name"},
		{"relative url", func(p *policy.Policy) { p.URL = "/portal" }, "url"},
		{"ftp url", func(p *policy.Policy) { p.URL = "ftp://portal.example" }, "url"},
		{"url without host", func(p *policy.Policy) { p.URL = "https://" }, "url"},
		{"unparsable url", func(p *policy.Policy) { p.URL = "https://a b%zz" }, "url"},
		{"zero revision", func(p *policy.Policy) { p.Revision = 0 }, "revision"},
		{"negative lifetime", func(p *policy.Policy) { p.LifetimeDays = -1 }, "lifetimeDays"},
		{"lifetime over 13 months", func(p *policy.Policy) { p.LifetimeDays = 396 }, "lifetimeDays"},
		{"refusal lifetime under six months", func(p *policy.Policy) { p.RefusalLifetimeDays = 181 }, "refusalLifetimeDays"},
		{"refusal lifetime over 13 months", func(p *policy.Policy) { p.RefusalLifetimeDays = 396 }, "refusalLifetimeDays"},
		{"negative refusal lifetime", func(p *policy.Policy) { p.RefusalLifetimeDays = -1 }, "refusalLifetimeDays"},
		{"no categories", func(p *policy.Policy) { p.Categories = nil }, "categories"},
		{"bad category id", func(p *policy.Policy) { p.Categories[1].ID = "Stats" }, "categories[1].id"},
		{"duplicate category", func(p *policy.Policy) { p.Categories[1].ID = policy.Necessary }, "categories[1].id"},
		{"blank category name", func(p *policy.Policy) { p.Categories[1].Name = " " }, "categories[1].name"},
		{"empty category description", func(p *policy.Policy) { p.Categories[0].Description = "" }, "categories[0].description"},
		{"necessary not required", func(p *policy.Policy) { p.Categories[0].Required = false }, "categories[0].required"},
		{"no necessary", func(p *policy.Policy) {
			p.Categories = p.Categories[1:]
			p.Cookies = nil
		}, "categories"},
		{"cookie without names", func(p *policy.Policy) { p.Cookies[2].Names = nil }, "cookies[2].names"},
		{"bad cookie name", func(p *policy.Policy) { p.Cookies[1].Names = append(p.Cookies[1].Names, "a b") }, "cookies[1].names[1]"},
		{"cookie name with ;", func(p *policy.Policy) { p.Cookies[0].Names[0] = "a;b" }, "cookies[0].names[0]"},
		{"unknown storage type", func(p *policy.Policy) { p.Cookies[0].Type = "webSQL" }, "cookies[0].type"},
		{"storage type in another case", func(p *policy.Policy) { p.Cookies[0].Type = "localstorage" }, "cookies[0].type"},
		{"localStorage key with a space", func(p *policy.Policy) { p.Cookies[1].Type, p.Cookies[1].Names = "localStorage", []string{"a b"} }, "cookies[1].names[0]"},
		{"indexedDB name with a quote", func(p *policy.Policy) { p.Cookies[1].Type, p.Cookies[1].Names = "indexedDB", []string{`a"b`} }, "cookies[1].names[0]"},
		{"sessionStorage row with paths", func(p *policy.Policy) {
			p.Cookies[0].Type, p.Cookies[0].Paths = "sessionStorage", []string{"/admin"}
		}, "cookies[0].paths"},
		{"undeclared cookie category", func(p *policy.Policy) { p.Cookies[3].Category = "ads" }, "cookies[3].category"},
		{"empty provider", func(p *policy.Policy) { p.Cookies[0].Provider = "" }, "cookies[0].provider"},
		{"empty function", func(p *policy.Policy) { p.Cookies[0].Function = "" }, "cookies[0].function"},
		{"empty purpose", func(p *policy.Policy) { p.Cookies[0].Purpose = "" }, "cookies[0].purpose"},
		{"empty duration", func(p *policy.Policy) { p.Cookies[0].Duration = " " }, "cookies[0].duration"},
		{"empty lang", func(p *policy.Policy) { p.Texts.Lang = "" }, "texts.lang"},
		{"lang with markup", func(p *policy.Policy) { p.Texts.Lang = `en" onclick="x` }, "texts.lang"},
		{"lang too odd", func(p *policy.Policy) { p.Texts.Lang = "e" }, "texts.lang"},
		{"empty banner title", func(p *policy.Policy) { p.Texts.BannerTitle = "" }, "texts.bannerTitle"},
		{"empty close", func(p *policy.Policy) { p.Texts.Close = "" }, "texts.close"},
		{"empty cookies title", func(p *policy.Policy) { p.Texts.CookiesTitle = "" }, "texts.cookiesTitle"},
		{"empty column", func(p *policy.Policy) { p.Texts.Columns.Duration = "" }, "texts.columns.duration"},
		{"empty section title", func(p *policy.Policy) { p.Texts.Sections[0].Title = " " }, "texts.sections[0].title"},
	}
	orig := defaultPolicy(t, "mtran")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := clonePolicy(t, orig)
			tt.mutate(p)
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *policy.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError for %s", err, tt.field)
			}
			if fe.Field != tt.field || fe.Msg == "" {
				t.Errorf("Validate() = %q (field %q), want field %q", err, fe.Field, tt.field)
			}
		})
	}
	if err := orig.Validate(); err != nil {
		t.Errorf("the cases changed the original policy: %v", err)
	}
}

func TestTrackers(t *testing.T) {
	base := defaultPolicy(t, "mtran")
	tests := []struct {
		name     string
		trackers []policy.Tracker
		err      string
	}{
		{"matomo and ga", []policy.Tracker{{"matomo", "statistical"}, {"google-analytics", "statistical"}}, ""},
		{"unknown type", []policy.Tracker{{"hotjar", "statistical"}}, `trackers[0].type: "hotjar" is not a tracker preset (google-analytics, matomo, xiti, at-internet, youtube, vimeo, dailymotion, openstreetmap, umap, mapbox, datawrapper)`},
		{"twice", []policy.Tracker{{"xiti", "statistical"}, {"xiti", "statistical"}}, `trackers[1].type: "xiti" is declared twice`},
		{"undeclared category", []policy.Tracker{{"matomo", "ads"}}, `trackers[0].category: "ads" is not a declared category`},
		{"required category", []policy.Tracker{{"at-internet", "necessary"}}, `trackers[0].category: "necessary" is required: a tracker needs a category the visitor can refuse`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := clonePolicy(t, base)
			p.Trackers = tt.trackers
			err := p.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.err {
				t.Fatalf("Validate = %v, want %s", err, tt.err)
			}
		})
	}
}

func TestExpandTrackers(t *testing.T) {
	p := clonePolicy(t, defaultPolicy(t, "mtran"))
	p.Translations = nil // English only: the rows added here have no French
	own := policy.Cookie{Provider: "Us", Function: "F", Names: []string{"_ga"}, Purpose: "Our words", Category: "statistical", Duration: "1 year"}
	p.Cookies = append(p.Cookies, own)
	p.Trackers = []policy.Tracker{{"matomo", "statistical"}, {"google-analytics", "statistical"}}
	n := len(p.Cookies)
	policy.ExpandTrackers(p)
	added := p.Cookies[n:]
	want := len(policy.TrackerCookies("matomo")) + len(policy.TrackerCookies("google-analytics")) - 1 // _ga is ours
	if len(added) != want {
		t.Fatalf("added %d rows, want %d: %+v", len(added), want, added)
	}
	var names []string
	for _, c := range added {
		if c.Category != "statistical" {
			t.Errorf("row %q in category %q", c.Names, c.Category)
		}
		names = append(names, c.Names...)
	}
	for _, n := range []string{"_pk_id.*", "_pk_ses.*", "_ga_*"} {
		if !slices.Contains(names, n) {
			t.Errorf("no row for %s in %q", n, names)
		}
	}
	if slices.Contains(names, "_ga") {
		t.Error("the preset's _ga row was added next to the operator's own")
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	policy.ExpandTrackers(p)
	if len(p.Cookies) != n+want {
		t.Errorf("expanding twice: %d rows, want %d", len(p.Cookies), n+want)
	}
	// Every preset row is valid in any optional category, in each of the 37
	// languages, and its patterns match the cookies the vendors set.
	for _, typ := range policy.TrackerTypes {
		q := clonePolicy(t, defaultPolicy(t, "mtran"))
		q.Trackers = []policy.Tracker{{typ, "statistical"}}
		policy.ExpandTrackers(q)
		if err := q.Validate(); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	for pattern, name := range map[string]string{"_ga_*": "_ga_Q2W3E4R5", "_pk_id.*": "_pk_id.1.1fff", "xtan*": "xtan12345"} {
		if !policy.MatchName(pattern, name) {
			t.Errorf("%s does not match %s", pattern, name)
		}
	}
}

func TestValidOrigin(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"https://data.example.org", true},
		{"https://data.example.org:8443", true},
		{"http://localhost:8080", true},
		{"http://127.0.0.1:9000", true},
		{"http://[::1]:9000", true},
		{"http://data.example.org", false},
		{"https://data.example.org/", false},
		{"https://data.example.org/path", false},
		{"https://Data.example.org", false},
		{"HTTPS://data.example.org", false},
		{"https://data.example.org:0", false},
		{"https://data.example.org:070", false},
		{"https://data.example.org:99999", false},
		{"https://user@data.example.org", false},
		{"https://data.example.org?x", false},
		{"ftp://data.example.org", false},
		{"data.example.org", false},
		{"", false},
	} {
		if got := policy.ValidOrigin(tt.in); got != tt.want {
			t.Errorf("ValidOrigin(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidateOrigins(t *testing.T) {
	p := clonePolicy(t, defaultPolicy(t, "mtran"))
	p.Origins = []string{"https://mtran.my.opendatasoft.com", "http://example.org"}
	err := p.Validate()
	if err == nil || !strings.Contains(err.Error(), "origins[1]") {
		t.Fatalf("Validate = %v, want an origins[1] error", err)
	}
	p.Origins = []string{"https://a.example.org", "https://a.example.org"}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Fatalf("Validate = %v, want a duplicate error", err)
	}
	p.Origins = []string{"https://a.example.org", "http://localhost:8080"}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}
