package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/export"
	"github.com/portalconsent/portalconsent/server/receipts"
)

// withStatsCookies returns the default policies with mtran declaring _ga
// and _pk_id.* in its statistical category, the cookies the reappeared
// beacon may report.
func withStatsCookies(t testing.TB) []*policy.Policy {
	ps := defaultPolicies(t)
	ps[0].Cookies = append(ps[0].Cookies, policy.Cookie{Provider: "Google", Function: "Analytics", Names: []string{"_ga", "_pk_id.*"},
		Purpose: "Audience", Category: "statistical", Duration: "13 months"})
	for i := range ps[0].Translations {
		ps[0].Translations[i].Cookies["_ga"] = policy.CookieText{Function: "Mesure", Purpose: "Audience", Duration: "13 mois"}
	}
	return ps
}

// testReceipt returns a receipt of portal received at at.
func testReceipt(portal, consentID string, at time.Time) *receipts.Receipt {
	return &receipts.Receipt{Portal: portal, ConsentID: consentID, Revision: 1,
		Choices: []policy.Choice{{Category: "necessary", Accepted: true}, {Category: "statistical", Accepted: false}},
		Method:  receipts.MethodRejectAll, Lang: "en", Page: "https://portal.example/data", DecidedAt: at.Add(-time.Second),
		ReceivedAt: at, Notice: receipts.NoticeHash([]byte(`{}`))}
}

func TestConsoleCookiesPage(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	ctx := context.Background()
	r := testReceipt("mtran", "c1", now.Add(-time.Hour))
	if err := s.store.Append(ctx, r, receipts.Cookies("_hjid")); err != nil {
		t.Fatal(err)
	}
	if err := s.store.CountReappeared(ctx, "mtran", "https://portal.example/news", []receipts.ReappearedCookie{{Name: "_ga", Category: "statistical"}}, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	c := signIn(t, s, aliceToken)
	res, body := consoleGet(t, s, c, "/console/portals/mtran/cookies", "en")
	if res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") != consoleCSP {
		t.Fatalf("cookies page: %d %v", res.StatusCode, res.Header)
	}
	for _, want := range []string{"<code>_hjid</code>", "Undeclared cookies", "Refused cookies seen again", "<code>_ga</code>",
		"<code>statistical</code>", "https://portal.example/data", "https://portal.example/news", "<dt>Times seen</dt><dd>1</dd>",
		`value="2026-02-02"`, `value="2026-03-03"`, `names: [&#34;_hjid&#34;]`, `aria-current="page">Undeclared cookies`,
		"And under cookies: of each translation in <code>ar, bg, ca, cs, cy, da, de, el, es, et, eu, fi, fr, ga, gl, he, hr, hu, is, it, lb, lt, lv, mt, nb, nl, nn, pl, pt, rm, ro, sk, sl, sv, tr, uk</code>:", "      &#34;_hjid&#34;:\n        function: &#34;[to fill in]&#34;"} {
		if !strings.Contains(body, want) {
			t.Errorf("cookies page lacks %q\n%s", want, body)
		}
	}
	if strings.Contains(body, "style=") || strings.Contains(body, "<script") {
		t.Error("inline style or script on the cookies page")
	}
	res, body = consoleGet(t, s, c, "/console/portals/mtran/cookies?from=2026-03-01&to=2026-03-03", "fr")
	if res.StatusCode != 200 || res.Header.Get("Content-Language") != "fr" || !strings.Contains(body, "Cookies refusés revus") ||
		!strings.Contains(body, "[à compléter]") || !strings.Contains(body, "<code>_hjid</code>") {
		t.Errorf("French cookies page: %d\n%s", res.StatusCode, body)
	}
	// A period without any: the empty states.
	_, body = consoleGet(t, s, c, "/console/portals/mtran/cookies?from=2025-01-01&to=2025-01-31", "en")
	if !strings.Contains(body, "No undeclared cookie was reported over this period.") ||
		!strings.Contains(body, "No refused cookie was found again over this period.") || strings.Contains(body, "_hjid") {
		t.Errorf("empty period:\n%s", body)
	}
	for _, q := range []string{"?from=2026-13-01&to=2026-03-03", "?from=2026-03-01", "?from=2026-03-03&to=2026-03-01", "?to=x"} {
		for _, lang := range []string{"en", "fr"} {
			res, body := consoleGet(t, s, c, "/console/portals/mtran/cookies"+q, lang)
			msg := map[string]string{"en": "This period cannot be read:", "fr": "Cette période est illisible :"}[lang]
			if res.StatusCode != 400 || !strings.Contains(body, `role="alert"`) || !strings.Contains(html.UnescapeString(body), msg) {
				t.Errorf("%s %s: %d\n%s", lang, q, res.StatusCode, body)
			}
		}
	}
	if res, _ := consoleGet(t, s, c, "/console/portals/twisto/cookies", "en"); res.StatusCode != 403 {
		t.Errorf("outside alice's scope: %d", res.StatusCode)
	}
}

func TestConsoleExport(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	ctx := context.Background()
	var ids []string
	for i, at := range []time.Time{now.AddDate(0, 0, -3), now.Add(-2 * time.Hour), now.Add(-time.Hour)} {
		r := testReceipt("mtran", fmt.Sprint("c", i), at)
		if err := s.store.Append(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	c := signIn(t, s, aliceToken)
	for _, lang := range []string{"en", "fr"} {
		res, body := consoleGet(t, s, c, "/console/portals/mtran/export", lang)
		want := map[string]string{"en": "Download (CSV)", "fr": "Télécharger (JSON Lines)"}[lang]
		if res.StatusCode != 200 || !strings.Contains(body, want) || !strings.Contains(body, `formaction="/console/portals/mtran/export.jsonl"`) {
			t.Errorf("%s export form: %d\n%s", lang, res.StatusCode, body)
		}
	}
	res, body := consoleGet(t, s, c, "/console/portals/mtran/export.csv?from=2026-03-02&to=2026-03-03", "en")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="receipts-mtran-2026-03-02-2026-03-03.csv"` {
		t.Fatalf("export.csv: %d %v", res.StatusCode, res.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "receipt_id" || rows[1][0] != ids[1] || rows[2][0] != ids[2] {
		t.Errorf("export.csv rows %v, %v; want the header and %v", rows, err, ids[1:])
	}
	res, body = consoleGet(t, s, c, "/console/portals/mtran/export.jsonl", "en") // the last 30 days
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="receipts-mtran-2026-02-02-2026-03-03.jsonl"` {
		t.Fatalf("export.jsonl: %d %v", res.StatusCode, res.Header)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var l export.ReceiptLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		got = append(got, l.ReceiptID)
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("export.jsonl: %v, want %v", got, ids)
	}
	// The API's export is the same bytes.
	_, api := serve(t, s, "GET", "/api/v1/portals/mtran/receipts.jsonl", http.Header{"Authorization": {"Bearer " + aliceToken}})
	if !bytes.Equal(api, []byte(body)) {
		t.Errorf("the API's receipts.jsonl differs from the console's:\n%s\n%s", api, body)
	}
	for _, q := range []string{"?from=2026-03-03&to=2026-03-01", "?from=2026-03-01", "?from=03/01/2026&to=2026-03-03"} {
		for _, f := range []string{"csv", "jsonl"} {
			res, body := consoleGet(t, s, c, "/console/portals/mtran/export."+f+q, "fr")
			if res.StatusCode != 400 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(html.UnescapeString(body), "Cette période est illisible :") {
				t.Errorf("export.%s%s: %d\n%s", f, q, res.StatusCode, body)
			}
		}
	}
	if res, _ := consoleGet(t, s, c, "/console/portals/twisto/export.csv", "en"); res.StatusCode != 403 {
		t.Errorf("outside alice's scope: %d", res.StatusCode)
	}
}

func TestConsoleCookiesStoreDown(t *testing.T) {
	now := testNow
	s := newConsoleServer(t, &now)
	c := signIn(t, s, aliceToken)
	testPortal(t, s, "mtran") // built while the store is up
	s.store.Close()
	res, body := consoleGet(t, s, c, "/console/portals/mtran/cookies", "fr")
	if res.StatusCode != 503 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Réessayez") {
		t.Errorf("store down: %d\n%s", res.StatusCode, body)
	}
}
