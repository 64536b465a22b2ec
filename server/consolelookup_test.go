package server

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/server/receipts"
)

// lookupServer returns a console server whose store holds two receipts of
// one consent id of mtran and a notice of a next revision of mtran with a
// cookie row added.
func lookupServer(t *testing.T) (*Server, receipts.Store, int, string) {
	t.Helper()
	now := testNow
	st := openTestStore(t)
	s := newReceiptServer(t, st, nil, WithOperators(testOperators(t)), WithSignInRate(0, 0),
		WithClock(func() time.Time { return now }))
	ctx := context.Background()
	cur := testPortal(t, s, "mtran").Policy
	next := *cur
	next.Revision = cur.Revision + 1
	next.Cookies = append(append(next.Cookies[:0:0], cur.Cookies...), next.Cookies[0])
	next.Cookies[len(next.Cookies)-1].Names = []string{"_new_tracker"}
	next.Cookies[len(next.Cookies)-1].Duration = "1 day"
	body, err := json.Marshal(&next)
	if err != nil {
		t.Fatal(err)
	}
	n := receipts.Notice{Portal: "mtran", SHA256: receipts.NoticeHash(body), Revision: int64(next.Revision), Lang: next.Texts.Lang, Body: body}
	if err := st.ServeNotice(ctx, n, now); err != nil {
		t.Fatal(err)
	}
	s.cat.ServeNotices(ctx)
	for i, m := range []string{receipts.MethodAcceptAll, receipts.MethodRejectAll} {
		r := testReceipt("mtran", "q8B3x0aPq1V2LmN7rT4sYw", now.Add(time.Duration(i-2)*time.Hour))
		r.Method, r.Notice, r.Revision = m, n.SHA256, n.Revision
		r.Choices[1].Accepted = m == receipts.MethodAcceptAll
		if err := st.Append(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	return s, st, cur.Revision, n.SHA256
}

func TestConsoleLookup(t *testing.T) {
	s, _, _, sha := lookupServer(t)
	c := signIn(t, s, aliceToken)
	res, page := consoleGet(t, s, c, "/console/portals/mtran/lookup?consent=q8B3x0aPq1V2LmN7rT4sYw", "en")
	if res.StatusCode != 200 {
		t.Fatalf("lookup: %d\n%s", res.StatusCode, page)
	}
	if n := strings.Count(page, `<tr class="pc-receipt">`); n != 2 {
		t.Fatalf("%d receipt rows, want 2\n%s", n, page)
	}
	first, second := strings.Index(page, "Accept all"), strings.Index(page, "Reject all")
	if first < 0 || second < first {
		t.Errorf("receipts not oldest first (Accept all then Reject all)\n%s", page)
	}
	for _, want := range []string{"<code>statistical</code>: accepted", "<code>statistical</code>: refused",
		`href="/console/portals/mtran/notices/` + sha + `"`, "https://portal.example/data", `aria-current="page">Consent lookup`} {
		if !strings.Contains(page, want) {
			t.Errorf("lookup page lacks %q", want)
		}
	}
	_, fr := consoleGet(t, s, c, "/console/portals/mtran/lookup?consent=q8B3x0aPq1V2LmN7rT4sYw", "fr")
	for _, want := range []string{"Tout accepter", "<code>statistical</code>: refusée", `lang="fr"`} {
		if !strings.Contains(fr, want) {
			t.Errorf("French lookup page lacks %q", want)
		}
	}
	for _, tc := range []struct {
		query  string
		status int
		want   string
	}{
		{"", 200, `id="consent"`},
		{"not-an-id", 400, "is not a consent ID"},
		{"%3Cscript%3Ealert(1)%3C/script%3E", 400, "&lt;script&gt;"},
		{"AAAAAAAAAAAAAAAAAAAAAA", 200, "No receipt of consent ID AAAAAAAAAAAAAAAAAAAAAA"},
	} {
		res, page := consoleGet(t, s, c, "/console/portals/mtran/lookup?consent="+tc.query, "en")
		if res.StatusCode != tc.status || !strings.Contains(page, tc.want) {
			t.Errorf("consent=%s: %d, want %d with %q\n%.400s", tc.query, res.StatusCode, tc.status, tc.want, page)
		}
	}
	// The consent id of mtran is not found under twisto (another chain).
	admin := signIn(t, s, testAdminToken)
	if _, page := consoleGet(t, s, admin, "/console/portals/twisto/lookup?consent=q8B3x0aPq1V2LmN7rT4sYw", "en"); !strings.Contains(page, "No receipt") {
		t.Errorf("a consent of mtran found under twisto")
	}
}

func TestConsoleNotice(t *testing.T) {
	s, _, _, sha := lookupServer(t)
	c := signIn(t, s, aliceToken)
	res, page := consoleGet(t, s, c, "/console/portals/mtran/notices/"+sha, "en")
	if res.StatusCode != 200 {
		t.Fatalf("notice: %d\n%s", res.StatusCode, page)
	}
	for _, want := range []string{"_new_tracker", "SHA-256 <code>" + sha + "</code>", "served from 2026-"} {
		if !strings.Contains(page, want) {
			t.Errorf("notice page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Errorf("the notice page carries a script")
	}
	for _, tc := range []struct {
		sha    string
		status int
	}{{strings.Repeat("0", 64), 404}, {"ABC", 400}, {strings.ToUpper(sha), 400}} {
		if res, _ := consoleGet(t, s, c, "/console/portals/mtran/notices/"+tc.sha, "en"); res.StatusCode != tc.status {
			t.Errorf("notice %s: %d, want %d", tc.sha, res.StatusCode, tc.status)
		}
	}
	// A notice of mtran is not one of twisto.
	admin := signIn(t, s, testAdminToken)
	if res, _ := consoleGet(t, s, admin, "/console/portals/twisto/notices/"+sha, "en"); res.StatusCode != 404 {
		t.Errorf("mtran's notice under twisto: %d, want 404", res.StatusCode)
	}
}

func TestConsoleHistory(t *testing.T) {
	s, _, cur, sha := lookupServer(t)
	c := signIn(t, s, aliceToken)
	res, page := consoleGet(t, s, c, "/console/portals/mtran/history", "en")
	if res.StatusCode != 200 {
		t.Fatalf("history: %d\n%s", res.StatusCode, page)
	}
	if !strings.Contains(page, `href="/console/portals/mtran/notices/`+sha+`"`) || strings.Count(page, `<tr class="pc-notice-row">`) < 2 {
		t.Errorf("history lacks the notices\n%s", page)
	}
	// The latest two revisions by default: the one served (its version
	// and date first, the revision after) and the next (a notice that no
	// version of the database published: the revision only).
	for _, want := range []string{"From version 1 of 2026-03-03 10:00:00Z (revision " + strconv.Itoa(cur) + ") to revision " + strconv.Itoa(cur+1),
		"<code>_new_tracker</code>", "added", `<tr class="pc-version"><td class="pc-num">1</td>`} {
		if !strings.Contains(page, want) {
			t.Errorf("history diff lacks %q\n%s", want, page)
		}
	}
	_, same := consoleGet(t, s, c, "/console/portals/mtran/history?from="+strconv.Itoa(cur)+"&to="+strconv.Itoa(cur), "fr")
	if !strings.Contains(same, "Aucune catégorie") {
		t.Errorf("a revision against itself shows changes")
	}
	for _, q := range []string{"?from=x", "?to=0", "?from=999999"} {
		if res, page := consoleGet(t, s, c, "/console/portals/mtran/history"+q, "en"); res.StatusCode != 400 || !strings.Contains(page, `role="alert"`) {
			t.Errorf("history%s: %d, want 400 with an alert", q, res.StatusCode)
		}
	}
}

// TestConsoleSearch: the home page finds a consent id in every portal the
// operator may see, and only those: alice (mtran) never learns that twisto
// holds receipts of the same id; the dpo (every portal) sees both, each
// linked to its lookup. A malformed id is 400 with a message, an id with no
// receipt says so; French wording for a French operator.
func TestConsoleSearch(t *testing.T) {
	s, st, _, _ := lookupServer(t)
	const id = "q8B3x0aPq1V2LmN7rT4sYw"
	if err := st.Append(context.Background(), testReceipt("twisto", id, testNow.Add(-time.Hour)), nil); err != nil {
		t.Fatal(err)
	}
	mtranLink := `href="/console/portals/mtran/lookup?consent=` + id + `"`
	twistoLink := `href="/console/portals/twisto/lookup?consent=` + id + `"`
	for _, c := range []struct {
		who, token, lang string
		status           int
		want, not        []string
	}{
		{"alice", aliceToken, "en", 200, []string{mtranLink, "(receipts: 2)", "Portals with receipts of the consent ID " + id}, []string{twistoLink, "twisto", "Twisto"}},
		{"dpo", dpoToken, "en", 200, []string{mtranLink, twistoLink, "(receipts: 1)"}, nil},
		{"dpo", dpoToken, "fr", 200, []string{twistoLink, "(reçus : 1)", "Trouver un identifiant de consentement"}, nil},
	} {
		res, page := consoleGet(t, s, signIn(t, s, c.token), "/console/?consent="+id, c.lang)
		if res.StatusCode != c.status {
			t.Fatalf("%s: %d\n%s", c.who, res.StatusCode, page)
		}
		for _, w := range c.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s (%s): the page lacks %q\n%s", c.who, c.lang, w, page)
			}
		}
		for _, n := range c.not {
			if strings.Contains(page, n) {
				t.Errorf("%s (%s): the page shows %q, outside the operator's portals", c.who, c.lang, n)
			}
		}
	}
	alice := signIn(t, s, aliceToken)
	// An id of twisto only: alice finds nothing.
	if err := st.Append(context.Background(), testReceipt("twisto", "twistoOnly00000000000A", testNow.Add(-time.Hour)), nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q      string
		status int
		want   string
	}{
		{"twistoOnly00000000000A", 200, "No portal you may see has receipts of the consent ID twistoOnly00000000000A."},
		{"not an id", 400, "is not a consent ID"},
		{strings.Repeat("x", 5000), 400, "is not a consent ID"},
		{"", 200, `id="consent"`},
	} {
		res, page := consoleGet(t, s, alice, "/console/?consent="+strings.ReplaceAll(c.q, " ", "+"), "en")
		if res.StatusCode != c.status || !strings.Contains(page, c.want) || strings.Contains(page, "search-hits") {
			t.Errorf("search %.20q: %d, want %d with %q and no hit\n%s", c.q, res.StatusCode, c.status, c.want, page)
		}
	}
}
