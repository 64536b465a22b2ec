package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// withStorageRows returns the default policies with mtran declaring the
// localStorage keys matomo_* (statistical) and the IndexedDB database
// offline_cache (necessary).
func withStorageRows(t testing.TB) []*policy.Policy {
	ps := defaultPolicies(t)
	ps[0].Cookies = append(ps[0].Cookies,
		policy.Cookie{Provider: "Matomo", Function: "Audience", Names: []string{"matomo_*"}, Purpose: "Visits", Category: "statistical",
			Duration: "13 months", Type: policy.TypeLocalStorage},
		policy.Cookie{Provider: "Portal", Function: "Offline", Names: []string{"offline_cache"}, Purpose: "Data kept offline", Category: "necessary",
			Duration: "Until deleted", Type: policy.TypeIndexedDB})
	for i := range ps[0].Translations {
		ps[0].Translations[i].Cookies["matomo_*"] = policy.CookieText{Function: "Mesure", Purpose: "Visites", Duration: "13 mois"}
		ps[0].Translations[i].Cookies["offline_cache"] = policy.CookieText{Function: "Hors ligne", Purpose: "Données", Duration: "Jusqu’à suppression"}
	}
	return ps
}

// storageBody returns a receipt body with storage keys.
func storageBody(value, method string, storage map[string][]string) string {
	b, _ := json.Marshal(map[string]any{"value": value, "method": method, "lang": "en", "page": "https://mtran.my.opendatasoft.com/explore/",
		"undeclared": []string{"mystery"}, "storage": storage})
	return string(b)
}

// TestPostConsentStorageKeys checks a receipt's undeclared web storage
// keys are tallied with their type (declared keys dropped, repeats once),
// a choice made by a browser signal is stored with method "signal", and
// the API and the console show each name with its type, the console's
// suggested row carrying it.
func TestPostConsentStorageKeys(t *testing.T) {
	now := testNow
	st := openTestStore(t)
	s := newReceiptServer(t, st, withStorageRows(t), WithOperators(testOperators(t)), WithSignInRate(0, 0),
		WithClock(func() time.Time { return now }))
	mtran := testPortal(t, s, "mtran")
	c := consentValue(mtran.Policy, now.Add(-time.Second))
	body := storageBody(c.Encode(), receipts.MethodSignal, map[string][]string{
		"localStorage":   {"app_state", "matomo_visits", "app_state", "mystery"},
		"sessionStorage": {"tab:state"},
	})
	if res, got := post(t, s, "/portals/mtran/consents", body, nil); res.StatusCode != http.StatusCreated {
		t.Fatalf("status %d %s, want 201", res.StatusCode, got)
	}
	rs, err := st.Consent(context.Background(), "mtran", c.ID)
	if err != nil || len(rs) != 1 || rs[0].Method != receipts.MethodSignal {
		t.Fatalf("Consent = %+v, %v; want one receipt with method signal", rs, err)
	}
	tallies, err := st.Undeclared(context.Background(), "mtran", now.AddDate(0, 0, -1), now.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range tallies {
		got = append(got, u.Type+" "+u.Name)
	}
	if want := []string{"cookie mystery", "localStorage app_state", "localStorage mystery", "sessionStorage tab:state"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tallies %q, want %q", got, want)
	}

	res, api := serve(t, s, "GET", "/api/v1/portals/mtran/cookies/undeclared", apiAuth)
	if res.StatusCode != 200 {
		t.Fatalf("API: %d %s", res.StatusCode, api)
	}
	var names []struct{ Type, Name string }
	if err := json.Unmarshal(api, &names); err != nil {
		t.Fatalf("API: %v: %s", err, api)
	}
	if len(names) != 4 || !strings.Contains(string(api), `"type":"localStorage","name":"app_state"`) ||
		!strings.Contains(string(api), `"type":"cookie","name":"mystery"`) {
		t.Errorf("API names %s", api)
	}

	cookie := signIn(t, s, aliceToken)
	for lang, stored := range map[string]string{"en": "Not a cookie: a key of", "fr": "Pas un cookie : une clé de"} {
		res, html := consoleGet(t, s, cookie, "/console/portals/mtran/cookies", lang)
		if res.StatusCode != 200 {
			t.Fatalf("console: %d", res.StatusCode)
		}
		for _, want := range []string{stored + " <code>localStorage</code>", stored + " <code>sessionStorage</code>",
			"type: localStorage\n", "type: sessionStorage\n", `id="u-localStorage-app_state"`, `id="u-cookie-mystery"`} {
			if !strings.Contains(html, want) {
				t.Errorf("console (%s) lacks %q", lang, want)
			}
		}
		if n := strings.Count(html, stored); n != 3 {
			t.Errorf("console (%s): %d names said not to be cookies, want 3", lang, n)
		}
	}
}

// TestPostConsentBadStorage checks the refusals of the storage lists: 400
// bad-storage for a type other than localStorage and sessionStorage, a key
// that is not one (space, quote, too long), a pattern character, or more
// than policy.MaxUndeclared keys of one type; nothing is stored. (The
// metrics count them under the reason bad-storage.)
func TestPostConsentBadStorage(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, withStorageRows(t))
	mtran := testPortal(t, s, "mtran")
	many := make([]string, policy.MaxUndeclared+1)
	for i := range many {
		many[i] = fmt.Sprint("k", i)
	}
	for name, storage := range map[string]map[string][]string{
		"indexedDB":      {"indexedDB": {"db"}},
		"cookie":         {"cookie": {"a"}},
		"space":          {"localStorage": {"a b"}},
		"quote":          {"sessionStorage": {`a"b`}},
		"long":           {"localStorage": {strings.Repeat("k", policy.MaxCookieNameBytes+1)}},
		"pattern":        {"localStorage": {"matomo_*"}},
		"empty key":      {"localStorage": {""}},
		"too many":       {"localStorage": many},
		"too many other": {"sessionStorage": many},
	} {
		c := consentValue(mtran.Policy, testNow.Add(-time.Second))
		res, got := post(t, s, "/portals/mtran/consents", storageBody(c.Encode(), "custom", storage), nil)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), `"storage`) {
			t.Errorf("%s: %d %s, want 400 bad-storage", name, res.StatusCode, got)
		}
		if rs, _ := st.Consent(context.Background(), "mtran", c.ID); len(rs) != 0 {
			t.Errorf("%s: stored %d receipts", name, len(rs))
		}
	}
	// At the limit, accepted.
	c := consentValue(mtran.Policy, testNow.Add(-time.Second))
	if res, got := post(t, s, "/portals/mtran/consents", storageBody(c.Encode(), "custom", map[string][]string{
		"localStorage": many[:policy.MaxUndeclared], "sessionStorage": many[:policy.MaxUndeclared]}), nil); res.StatusCode != http.StatusCreated {
		t.Errorf("32 keys of each type: %d %s", res.StatusCode, got)
	}
}

// TestConfigStorage checks config.json: it names beyond.js and embeds.js
// (path, integrity, global); a portal with rows beyond cookies gets the
// labels of their types in its language, and its rows' types; a portal
// with only cookies gets no labels, and no row type, as before.
func TestConfigStorage(t *testing.T) {
	ps := withStorageRows(t)
	// twisto without its one row of web storage (cookies_preferences_pending):
	// a portal of cookies only.
	ps[1].Cookies = slices.DeleteFunc(ps[1].Cookies, func(c policy.Cookie) bool { return c.Kind() != policy.TypeCookie })
	for _, tr := range ps[1].Translations {
		delete(tr.Cookies, "cookies_preferences_pending")
	}
	s := newReceiptServer(t, openTestStore(t), ps)
	for _, tc := range []struct {
		portal, lang, label string
	}{{"mtran", "fr", "Stockage local"}, {"mtran", "de", "Lokaler Speicher"}, {"twisto", "en", ""}} {
		var cfg struct {
			Assets struct{ Beyond, Embeds []string }
			Policy struct {
				Cookies []map[string]any
				Texts   map[string]any
			}
		}
		res, body := serve(t, s, "GET", "/portals/"+tc.portal+"/config.json?lang="+tc.lang, nil)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", tc.portal, res.StatusCode)
		}
		if err := json.Unmarshal(body, &cfg); err != nil {
			t.Fatal(err)
		}
		if len(cfg.Assets.Beyond) != 3 || !strings.HasPrefix(cfg.Assets.Beyond[0], "assets/beyond.") || !strings.HasPrefix(cfg.Assets.Beyond[1], "sha256-") ||
			cfg.Assets.Beyond[2] != "__portalConsentBeyond" || len(cfg.Assets.Embeds) != 3 || cfg.Assets.Embeds[2] != "__portalConsentEmbeds" {
			t.Errorf("%s: assets %+v", tc.portal, cfg.Assets)
		}
		storage, _ := cfg.Policy.Texts["storage"].(map[string]any)
		if tc.label == "" {
			if storage != nil || strings.Contains(string(body), `"type":`) {
				t.Errorf("%s: storage texts %v or a row type in a portal of cookies only", tc.portal, storage)
			}
			continue
		}
		if storage["localStorage"] != tc.label || storage["indexedDB"] == "" {
			t.Errorf("%s in %s: storage texts %v", tc.portal, tc.lang, storage)
		}
		types := map[string]bool{}
		for _, row := range cfg.Policy.Cookies {
			if typ, ok := row["type"].(string); ok {
				types[typ] = true
			}
		}
		if !types["localStorage"] || !types["indexedDB"] || len(types) != 2 {
			t.Errorf("%s: row types %v", tc.portal, types)
		}
	}
}

// TestFloodStorageKeysIsBounded floods the receipts route with random web
// storage keys (32 of each type a receipt, the most a receipt may carry):
// a portal's tallies of the day stay within receipts.MaxTallyNames names of
// every type together, plus the (other) tally of each type.
func TestFloodStorageKeysIsBounded(t *testing.T) {
	st := openTestStore(t)
	s := newReceiptServer(t, st, withStorageRows(t), WithRateLimit(0, 0))
	p := testPortal(t, s, "mtran").Policy
	const receiptsN = 40
	for i := range receiptsN {
		keys := map[string][]string{}
		for _, typ := range []string{"localStorage", "sessionStorage"} {
			for j := range policy.MaxUndeclared {
				keys[typ] = append(keys[typ], fmt.Sprintf("k%s%03d_%02d", typ[:1], i, j))
			}
		}
		if res, got := post(t, s, "/portals/mtran/consents", storageBody(consentValue(p, testNow).Encode(), "reject-all", keys), nil); res.StatusCode != http.StatusCreated {
			t.Fatalf("receipt %d: %d %s", i, res.StatusCode, got)
		}
	}
	day := testNow.Truncate(24 * time.Hour)
	us, err := st.Undeclared(context.Background(), "mtran", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	others := map[string]int64{}
	for _, u := range us {
		if u.Name == receipts.OtherName {
			others[u.Type] = u.Count
		}
	}
	// 40 × 64 keys and the cookie "mystery" of each receipt: the first
	// 1,000 names have tallies, the rest count in their type's (other).
	if len(us) > receipts.MaxTallyNames+3 || others["sessionStorage"] == 0 {
		t.Errorf("%d tallies (others %v) after %d keys, want at most %d", len(us), others, receiptsN*2*policy.MaxUndeclared, receipts.MaxTallyNames+3)
	}
}
