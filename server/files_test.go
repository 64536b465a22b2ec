package server

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/policyfiles"
)

// storeServer returns a server over fake assets and the built-in portals as
// the store gives them (the example portal included).
func storeServer(t testing.TB) *Server {
	t.Helper()
	ps, err := policyfiles.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(policyfiles.Policies(ps), fakeAssetsFS())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIndexListsPortals(t *testing.T) {
	s := storeServer(t)
	res, body := serve(t, s, "GET", "/", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	page := string(body)
	for _, p := range s.Policies() {
		for _, want := range []string{
			`<code>` + p.ID + `</code>`,
			`<a href="/demo/` + p.ID + `">Demo page</a>`,
			`<a href="/portals/` + p.ID + `/policy">Cookie policy</a>`,
			`<td>` + strconv.Itoa(p.Revision) + `</td>`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("index lacks %s", want)
			}
		}
	}
	if !strings.Contains(page, `<a href="/policy-example.yaml">`) {
		t.Error("index does not link the example policy file")
	}
	if i, j := strings.Index(page, "<code>example</code>"), strings.Index(page, "<code>mtran</code>"); i < 0 || j < i {
		t.Error("portals not in id order")
	}
}

func TestPolicyExample(t *testing.T) {
	s := storeServer(t)
	res, body := serve(t, s, "GET", "/policy-example.yaml", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, type %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	p, err := policyfiles.Parse("example.yaml", body)
	if err != nil {
		t.Fatalf("the served example does not load: %v", err)
	}
	if len(p.Trackers) != 2 {
		t.Errorf("trackers %+v", p.Trackers)
	}
}

// TestDemoTrackers checks the example's demo page gates a local stand-in per
// tracker, shows the real snippets as text, and that the stand-ins name no
// other host.
func TestDemoTrackers(t *testing.T) {
	s := storeServer(t)
	_, body := serve(t, s, "GET", "/demo/example", nil)
	page := string(body)
	for _, want := range []string{
		`<script type="text/plain" data-category="statistical" src="/demo/stand-in/matomo.js"></script>`,
		`<script type="text/plain" data-category="statistical" src="/demo/stand-in/google-analytics.js"></script>`,
		`&lt;script type=&#34;text/plain&#34; data-category=&#34;statistical&#34;&gt;`, // a snippet, as text
		`_paq.push([&#39;setSiteId&#39;, &#39;SITE_ID&#39;]);`,
		`<ol id="tracker-log"></ol>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("demo page lacks %s", want)
		}
	}
	if strings.Contains(page, `<script src="https://www.googletagmanager.com`) || strings.Count(page, "<script") != 3 {
		t.Errorf("demo page runs other scripts than the loader and two stand-ins:\n%s", page)
	}
	_, plain := serve(t, s, "GET", "/demo/mtran", nil)
	if strings.Contains(string(plain), "tracker-log") {
		t.Error("a portal without trackers shows the trackers section")
	}
	for typ, want := range map[string][]string{
		"matomo":           {`"_pk_id."`, `"_pk_ses."`},
		"google-analytics": {`"_ga=GA1.1."`, `"_ga_DEMO123=GS1.1."`},
	} {
		res, js := serve(t, s, "GET", "/demo/stand-in/"+typ+".js", nil)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
			t.Fatalf("%s: status %d, type %s", typ, res.StatusCode, res.Header.Get("Content-Type"))
		}
		for _, w := range want {
			if !strings.Contains(string(js), w) {
				t.Errorf("%s stand-in lacks %s", typ, w)
			}
		}
		for _, bad := range []string{"http", "fetch(", "XMLHttpRequest", "sendBeacon", ".src", "Image("} {
			if strings.Contains(string(js), bad) {
				t.Errorf("%s stand-in may contact a host: has %q", typ, bad)
			}
		}
	}
	if res, _ := serve(t, s, "GET", "/demo/stand-in/hotjar.js", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown stand-in: status %d", res.StatusCode)
	}
}

// TestSetPolicies checks a swap of the policies reaches every route at once:
// a changed portal gets a new config.json (new ETag, new revision), a removed
// one is unknown, a new one is served; an invalid set changes nothing.
func TestSetPolicies(t *testing.T) {
	s := storeServer(t)
	oldTag := configETag(t, s, "mtran")
	ps := s.Policies()
	var next []*policy.Policy
	for _, p := range ps {
		switch p.ID {
		case "twisto":
			continue // removed
		case "mtran":
			q := *p
			q.Translations = nil // English only: the new category has no French
			q.Categories = append(append([]policy.Category(nil), p.Categories...),
				policy.Category{ID: "marketing", Name: "Marketing", Description: "Ads."})
			q.Revision = policyfiles.Revision(&q)
			p = &q
		}
		next = append(next, p)
	}
	if err := s.SetPolicies(next); err != nil {
		t.Fatal(err)
	}
	if tag := configETag(t, s, "mtran"); tag == oldTag {
		t.Error("config.json kept its ETag after the policy changed")
	}
	res, body := serve(t, s, "GET", "/portals/mtran/config.json", http.Header{"If-None-Match": {oldTag}})
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"id":"marketing"`) {
		t.Errorf("revalidating the old config.json: status %d", res.StatusCode)
	}
	if res, _ := serve(t, s, "GET", "/portals/twisto/config.json", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("removed portal: status %d", res.StatusCode)
	}
	if _, body := serve(t, s, "GET", "/healthz", nil); !strings.Contains(string(body), `"portals":2`) {
		t.Errorf("healthz %s", body)
	}
	bad := *next[0]
	bad.Name = ""
	if err := s.SetPolicies([]*policy.Policy{&bad}); err == nil {
		t.Fatal("SetPolicies accepted an invalid policy")
	}
	if len(s.Policies()) != 2 {
		t.Errorf("a refused set changed the portals: %d", len(s.Policies()))
	}
}
