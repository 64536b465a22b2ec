package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/export"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/reports"
)

// The console's cookies and export pages of one portal (session, scope
// checked by portalFor: 403 outside it, 404 unknown):
//
//	GET /console/portals/{id}/cookies?from=&to=&upage=&rpage=
//	                                              undeclared cookies and refused cookies seen again
//	GET /console/portals/{id}/export              the export form
//	GET /console/portals/{id}/export.csv?from=&to=    receipts of the period as CSV, streamed
//	GET /console/portals/{id}/export.jsonl?from=&to=  the same as JSON Lines
//
// from and to are UTC days, inclusive; without both the period is the last
// export.DefaultDays days. A malformed date, only one of them, or from after to
// is 400 with the page (cookies) or the console's error page (exports)
// saying what is wrong; a host without receipts store is 503. Each list of
// the cookies page shows cookiesPageSize names at most, most seen first:
// upage and rpage (from 1) pick the page of the undeclared and reappeared
// lists; a page number that is not a whole number from 1, or past the last
// page, is 400 with the page and a message.

// cookiesPageSize is how many names a list of the cookies page shows.
const cookiesPageSize = 100

// cookiesText is the wording of the cookies and export pages.
type cookiesText struct {
	CookiesTitle, CookiesIntro, From, To, Show, BadPeriod, NoStore, StoreDown string
	UndeclaredTitle, UndeclaredIntro, UndeclaredNone                          string
	Seen, FirstSeen, LastSeen, Pages, NoPage, YAMLRow, YAMLHelp               string
	ReappearedTitle, ReappearedIntro, ReappearedNone, Category                string
	ExportTitle, ExportIntro, Format, CSV, JSONL, Download                    string
	Placeholder, ChooseCategory, YAMLTranslation                              string
	// StoredIn introduces the type of an undeclared name that is not a
	// cookie (a localStorage or sessionStorage key).
	StoredIn string
	// Showing is the format of a list's extent: first, last, total.
	Showing, PrevPage, NextPage, BadPage, OtherHelp string
}

// listPage is the extent of one list of the cookies page and the links to
// its neighbours ("" when there is none).
type listPage struct {
	Showing    string
	Prev, Next string
}

// cookieRow is one cookie of the cookies page.
type cookieRow struct {
	// Type is where an undeclared name was found (cookie, localStorage,
	// sessionStorage); empty for a reappeared cookie.
	Type                                      string
	Name, Category, FirstSeen, LastSeen, YAML string
	Count                                     int64
	Pages                                     []string
	// Other is the tally of the names past a day's limit
	// (receipts.OtherName): no row to paste.
	Other bool
	// Translations are the entries to paste under cookies: of each
	// translation of a translated portal, beside YAML.
	Translations []translatedRow
}

// translatedRow is the entry of a translation: its language and YAML.
type translatedRow struct{ Lang, YAML string }

// cookiesData is the cookies page's own data.
type cookiesData struct {
	X                cookiesText
	From, To, Error  string
	Undeclared, Seen []cookieRow
	// UndeclaredPage and SeenPage are the lists' extents; nil for an empty
	// list.
	UndeclaredPage, SeenPage *listPage
	Export                   bool // the export page
}

// cookieFacts is the data of the cookie-facts template: one row with the
// page's wording.
func cookieFacts(d *cookiesData, row cookieRow) any {
	return struct {
		X   cookiesText
		Row cookieRow
	}{d.X, row}
}

// pager is the data of the pager templates: a list's extent with the
// page's wording.
func pager(x cookiesText, p *listPage) any {
	return struct {
		X    cookiesText
		Page *listPage
	}{x, p}
}

// yamlString is s as a YAML scalar: JSON's double-quoted string is one.
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// suggestedRow returns the cookie row of the policy file declaring name,
// the texts to fill in marked with x.Placeholder, the category the first
// optional one of p (a comment lists them all), so that the row as pasted
// is valid for the policy loader.
func suggestedRow(p *policy.Policy, typ, name string, x cookiesText) string {
	var ids []string
	cat := ""
	for _, c := range p.Categories {
		ids = append(ids, c.ID)
		if cat == "" && !c.Required {
			cat = c.ID
		}
	}
	if cat == "" && len(ids) > 0 {
		cat = ids[0]
	}
	ph := yamlString(x.Placeholder)
	var b strings.Builder
	b.WriteString("  - provider: " + ph + "\n")
	b.WriteString("    function: " + ph + "\n")
	b.WriteString("    names: [" + yamlString(name) + "]\n")
	b.WriteString("    purpose: " + ph + "\n")
	b.WriteString("    category: " + cat + "  # " + x.ChooseCategory + ": " + strings.Join(ids, ", ") + "\n")
	b.WriteString("    duration: " + ph + "\n")
	if typ != "" && typ != policy.TypeCookie {
		b.WriteString("    type: " + typ + "\n")
	}
	return b.String()
}

// suggestedTranslations returns, for each translation of p, the entry to
// paste under its cookies: (indented as a translation's entries are, six
// spaces) translating the row suggestedRow declares: the policy loader
// refuses a translated policy with a cookie row a translation lacks. It is
// empty for a portal in one language.
func suggestedTranslations(p *policy.Policy, name string, x cookiesText) []translatedRow {
	ph := yamlString(x.Placeholder)
	var out []translatedRow
	for _, tr := range p.Translations {
		var b strings.Builder
		b.WriteString("      " + yamlString(name) + ":\n")
		b.WriteString("        function: " + ph + "\n")
		b.WriteString("        purpose: " + ph + "\n")
		b.WriteString("        duration: " + ph + "\n")
		out = append(out, translatedRow{Lang: tr.Texts.Lang, YAML: b.String()})
	}
	return out
}

// sameEntries returns rows with the entries of the same YAML shown once,
// their languages joined ("ar, bg, ca"): the entry to paste is the same in
// every translation, and a portal in 37 languages would otherwise repeat it
// 36 times per cookie (a page of 100 names past a megabyte).
func sameEntries(rows []translatedRow) []translatedRow {
	var out []translatedRow
	for _, r := range rows {
		if n := len(out); n > 0 && out[n-1].YAML == r.YAML {
			out[n-1].Lang += ", " + r.Lang
			continue
		}
		out = append(out, r)
	}
	return out
}

// period returns the period of r (see export.ParsePeriod) with the form's
// values: the dates asked for, or on error the query's text.
func (c *Console) period(r *http.Request) (p export.Period, fromV, toV string, err error) {
	p, err = export.ParsePeriod(r.URL.Query(), c.now(), 0)
	if err != nil {
		return p, r.URL.Query().Get("from"), r.URL.Query().Get("to"), err
	}
	return p, p.From.Format(time.DateOnly), p.Last().Format(time.DateOnly), nil
}

// Cookies serves the undeclared cookies and the refused cookies seen again
// of a period.
func (c *Console) Cookies(w http.ResponseWriter, r *http.Request) {
	pt, s := c.portalFor(w, r)
	if pt == nil {
		return
	}
	d := &cookiesData{X: s.tx.Cookies}
	page := c.page(s, d.X.CookiesTitle+" – "+pt.Policy.Name, pt, navCookies)
	page.Data = d
	p, fromV, toV, err := c.period(r)
	d.From, d.To = fromV, toV
	if err != nil {
		d.Error = err.Error()
		c.render(w, http.StatusBadRequest, "cookies", page)
		return
	}
	upage, uerr := pageNumber(r, "upage")
	rpage, rerr := pageNumber(r, "rpage")
	if uerr != nil || rerr != nil {
		d.Error = d.X.BadPage
		c.render(w, http.StatusBadRequest, "cookies", page)
		return
	}
	us, utotal, err := c.store.UndeclaredPage(r.Context(), pt.Policy.ID, p.From, p.To, cookiesPageSize, (upage-1)*cookiesPageSize)
	var (
		rs     []receipts.Reappeared
		rtotal int
	)
	if err == nil {
		rs, rtotal, err = c.store.ReappearedPage(r.Context(), pt.Policy.ID, p.From, p.To, cookiesPageSize, (rpage-1)*cookiesPageSize)
	}
	if err != nil {
		c.storeError(w, s, err, d.X.CookiesTitle)
		return
	}
	if (upage > 1 && len(us) == 0) || (rpage > 1 && len(rs) == 0) {
		d.Error = d.X.BadPage
		c.render(w, http.StatusBadRequest, "cookies", page)
		return
	}
	lang := s.tx.Console.Lang
	d.UndeclaredPage = extent(r, d.X, lang, "upage", upage, utotal)
	d.SeenPage = extent(r, d.X, lang, "rpage", rpage, rtotal)
	for _, u := range reports.SumUndeclared(us) {
		row := cookieRow{Type: u.Type, Name: u.Name, Count: u.Count, FirstSeen: u.FirstSeen, LastSeen: u.LastSeen, Pages: u.Pages,
			Other: u.Name == receipts.OtherName}
		if !row.Other {
			row.YAML, row.Translations = suggestedRow(pt.Policy, u.Type, u.Name, d.X), sameEntries(suggestedTranslations(pt.Policy, u.Name, d.X))
		}
		d.Undeclared = append(d.Undeclared, row)
	}
	for _, u := range reports.SumReappeared(rs) {
		d.Seen = append(d.Seen, cookieRow{Name: u.Name, Category: u.Category, Count: u.Count, FirstSeen: u.FirstSeen,
			LastSeen: u.LastSeen, Pages: u.Pages, Other: u.Name == receipts.OtherName})
	}
	c.render(w, http.StatusOK, "cookies", page)
}

// pageNumber returns the page number of r's query parameter name: 1 when
// absent, an error when it is not a whole number from 1.
func pageNumber(r *http.Request, name string) (int, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return 1, nil
	}
	n, err := strconv.Atoi(q.Get(name))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: not a page number", name)
	}
	return n, nil
}

// extent returns the extent of page n of a list of total names, with the
// links to the pages before and after it (r's query with param changed);
// nil for an empty list.
func extent(r *http.Request, x cookiesText, lang, param string, n, total int) *listPage {
	if total == 0 {
		return nil
	}
	first := (n-1)*cookiesPageSize + 1
	last := min(n*cookiesPageSize, total)
	lp := &listPage{Showing: fmt.Sprintf(x.Showing, fmtInt(lang, int64(first)), fmtInt(lang, int64(last)), fmtInt(lang, int64(total)))}
	link := func(page int) string {
		q := r.URL.Query()
		q.Set(param, strconv.Itoa(page))
		return r.URL.Path + "?" + q.Encode()
	}
	if n > 1 {
		lp.Prev = link(n - 1)
	}
	if last < total {
		lp.Next = link(n + 1)
	}
	return lp
}

// storeError writes the error page of a store that failed (or of a host
// that keeps no receipts), with heading.
func (c *Console) storeError(w http.ResponseWriter, s signedIn, err error, heading string) {
	msg := s.tx.Cookies.StoreDown
	if errors.Is(err, receipts.ErrNoStore) {
		msg = s.tx.Cookies.NoStore
	}
	c.errorPage(w, c.failed(err), s, heading, msg)
}

// Export serves the export form.
func (c *Console) Export(w http.ResponseWriter, r *http.Request) {
	pt, s := c.portalFor(w, r)
	if pt == nil {
		return
	}
	d := &cookiesData{X: s.tx.Cookies, Export: true}
	status := http.StatusOK
	_, fromV, toV, err := c.period(r)
	d.From, d.To = fromV, toV
	if err != nil {
		d.Error, status = err.Error(), http.StatusBadRequest
	}
	page := c.page(s, d.X.ExportTitle+" – "+pt.Policy.Name, pt, navExport)
	page.Data = d
	c.render(w, status, "cookies", page)
}

// ExportCSV streams the receipts of the period as CSV with the operator's
// session.
func (c *Console) ExportCSV(w http.ResponseWriter, r *http.Request) { c.exportFile(w, r, export.CSV) }

// ExportJSONL streams the receipts of the period as JSON Lines.
func (c *Console) ExportJSONL(w http.ResponseWriter, r *http.Request) {
	c.exportFile(w, r, export.JSONL)
}

// exportFile streams the receipts of the period in format f: a bad period
// is the error page (400), and so is a store that fails before the first
// row (503); see export.Stream for one that fails later.
func (c *Console) exportFile(w http.ResponseWriter, r *http.Request, f export.Format) {
	pt, s := c.portalFor(w, r)
	if pt == nil {
		return
	}
	x := s.tx.Cookies
	p, _, _, err := c.period(r)
	if err != nil {
		c.errorPage(w, http.StatusBadRequest, s, x.ExportTitle, x.BadPeriod+" "+err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := export.Stream(w, r, c.store, c.log, pt.Policy.ID, p, f); err != nil {
		c.storeError(w, s, err, x.ExportTitle)
	}
}
