package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/catalogue"
	"github.com/portalconsent/portalconsent/server/lang"
	"github.com/portalconsent/portalconsent/server/receipts"
	"github.com/portalconsent/portalconsent/server/respond"
)

// The console's proof pages of one portal:
//
//	GET /console/portals/{id}/lookup?consent=ID     the receipts of a consent id, oldest first
//	GET /console/portals/{id}/notices/{sha256}      a stored notice, rendered as the policy page it was
//	GET /console/portals/{id}/history?from=N&to=M   the revisions and notices served, and what changed
//
// A malformed consent id, hash or revision is answered 400 with the page
// and a message; an unknown hash 404; a store that fails 503.

// lookupText is the wording of the proof pages in one language.
type lookupText struct {
	LookupTitle, LookupIntro, ConsentLabel, ConsentHelp, Search, BadID, NoReceipt, Found             string
	Received, Decided, Revision, Choices, Method, Language, Page, Receipt, Notice, Accepted, Refused string
	ShowNotice, Unavailable, NoticeTitle, NoticeIntro, NoticeBad, NoticeUnknown, Served, Until       string
	HistoryTitle, HistoryIntro, SHA, FirstServed, LastServed, NoNotices, DiffTitle, DiffOf, Compare  string
	FromRev, ToRev, BadRev, UnknownRev, NoChange, Kind, Change, Item, Field, Before, After           string
	// The versions published (History).
	VersionsTitle, NoticesTitle, VersionCol, PublishedCol, ByCol, ViaCol, RevisionIDCol string
	Methods                                                                             map[string]string
	Kinds, Ops                                                                          map[string]string
}

type lookupChoice struct{ Category, State string }

type lookupRow struct {
	Received, Decided      string
	Revision               string // its version first (revisionNames)
	Choices                []lookupChoice
	Method, Lang, Page, ID string
	NoticeURL, NoticeLabel string
}

type lookupData struct {
	L     *lookupText
	Query string
	Found string
	Rows  []lookupRow
}

// revisionNames returns how the pages of portal name a revision for an
// operator: the version that first published it, with its date, then the
// revision as a technical id (versionText); the revision only when no
// version of the database published it (a host without database, a
// revision older than the database's versions).
func (c *Console) revisionNames(ctx context.Context, t *consoleText, portal string) func(int64) string {
	first := map[int64]receipts.PolicyVersion{}
	if vs, err := c.cat.Versions(ctx, portal); err == nil {
		for _, v := range vs { // newest first: the oldest of a revision stays
			first[v.Revision] = v
		}
	}
	return func(rev int64) string { return versionText(t, first[rev], rev) }
}

func utcTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func noticeURL(portal, sha string) string {
	return "/console/portals/" + portal + "/notices/" + sha
}

// Lookup serves the lookup page: the form, and with ?consent= the
// receipts of that consent id of the portal.
func (c *Console) Lookup(w http.ResponseWriter, r *http.Request) {
	pt, s := c.portalFor(w, r)
	if pt == nil {
		return
	}
	L := &s.tx.Lookup
	id := pt.Policy.ID
	q := r.URL.Query().Get("consent")
	d := c.page(s, L.LookupTitle+" – "+pt.Policy.Name, pt, navLookup)
	data := &lookupData{L: L, Query: q}
	d.Data = data
	switch {
	case q == "":
		c.render(w, http.StatusOK, "lookup", d)
		return
	case !receipts.ValidConsentID(q):
		d.Error = fmt.Sprintf(L.BadID, respond.Clip(q, 64))
		c.render(w, http.StatusBadRequest, "lookup", d)
		return
	}
	rs, err := c.store.Consent(r.Context(), id, q)
	if errors.Is(err, receipts.ErrNotFound) {
		d.Message = fmt.Sprintf(L.NoReceipt, q)
		c.render(w, http.StatusOK, "lookup", d)
		return
	}
	if err != nil {
		d.Error = L.Unavailable
		c.render(w, c.failed(err), "lookup", d)
		return
	}
	data.Found = fmt.Sprintf(L.Found, q)
	named := c.revisionNames(r.Context(), &s.tx.Console, id)
	for _, rc := range rs {
		row := lookupRow{Received: utcTime(rc.ReceivedAt), Decided: utcTime(rc.DecidedAt), Revision: named(rc.Revision),
			Method: L.Methods[rc.Method], Lang: rc.Lang, Page: rc.Page, ID: rc.ID,
			NoticeURL: noticeURL(id, rc.Notice), NoticeLabel: fmt.Sprintf(L.ShowNotice, lang.Name(rc.Lang))}
		if row.Method == "" {
			row.Method = rc.Method
		}
		for _, c := range rc.Choices {
			st := L.Refused
			if c.Accepted {
				st = L.Accepted
			}
			row.Choices = append(row.Choices, lookupChoice{Category: c.Category, State: st})
		}
		data.Rows = append(data.Rows, row)
	}
	c.render(w, http.StatusOK, "lookup", d)
}

type noticeData struct {
	L                             *lookupText
	Intro, Served, SHA, Lang, Dir string
	Content                       template.HTML
}

// decodeNotice returns the policy a stored notice holds (the policy JSON
// config.json served), or an error when the body is not one.
func decodeNotice(n receipts.Notice) (*policy.Policy, error) {
	var q policy.Policy
	if err := json.Unmarshal(n.Body, &q); err != nil {
		return nil, err
	}
	if q.ID == "" || len(q.Categories) == 0 {
		return nil, errors.New("the stored notice is not a policy document")
	}
	return &q, nil
}

// Notice serves a stored notice rendered as the policy page it
// was, with the banner's own component; no script runs on it.
func (c *Console) Notice(w http.ResponseWriter, r *http.Request) {
	pt, s := c.portalFor(w, r)
	if pt == nil {
		return
	}
	L := &s.tx.Lookup
	id := pt.Policy.ID
	d := c.page(s, L.NoticeTitle+" – "+pt.Policy.Name, pt, navHistory)
	sha := r.PathValue("sha256")
	fail := func(status int, msg string) {
		d.Heading, d.Message = L.NoticeTitle, msg
		c.render(w, status, "error", d)
	}
	if !receipts.ValidNoticeHash(sha) {
		fail(http.StatusBadRequest, fmt.Sprintf(L.NoticeBad, respond.Clip(sha, 80)))
		return
	}
	n, err := c.store.Notice(r.Context(), id, sha)
	if errors.Is(err, receipts.ErrNotFound) {
		fail(http.StatusNotFound, L.NoticeUnknown)
		return
	}
	if err != nil {
		fail(c.failed(err), L.Unavailable)
		return
	}
	q, err := decodeNotice(n)
	if err != nil {
		c.log.Error("stored notice does not decode", "portal", id, "sha256", sha, "err", err.Error())
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	served := fmt.Sprintf(L.Served, utcTime(n.FirstServed))
	if !n.LastServed.IsZero() {
		served += " " + fmt.Sprintf(L.Until, utcTime(n.LastServed))
	}
	named := c.revisionNames(r.Context(), &s.tx.Console, id)
	d.Data = &noticeData{L: L, Intro: fmt.Sprintf(L.NoticeIntro, q.Name, named(n.Revision), lang.Name(n.Lang)), Served: served,
		SHA: sha, Lang: n.Lang, Dir: policy.Dir(n.Lang), Content: catalogue.PolicyHTML(q)}
	c.render(w, http.StatusOK, "notice", d)
}

type historyNotice struct {
	Revision                             int64
	Named, Lang, URL, Short, First, Last string
}

type historyRevision struct {
	N        int64
	Named    string
	From, To bool
}

type historyChange struct{ Kind, Key, Op, Field, From, To string }

// historyVersion is one publication of the portal's policy.
type historyVersion struct {
	Version                            int64
	Published, By, Via, Revision, File string
}

type historyData struct {
	L         *lookupText
	T         *consoleText
	Versions  []historyVersion
	Notices   []historyNotice
	Revisions []historyRevision
	DiffOf    string
	Changes   []historyChange
}

// History serves the policy history: every version published (who, how,
// when), every notice recorded, and the changes between two revisions
// (?from=N&to=M, by default the latest two).
func (c *Console) History(w http.ResponseWriter, r *http.Request) {
	pt, s := c.portalFor(w, r)
	if pt == nil {
		return
	}
	L := &s.tx.Lookup
	id := pt.Policy.ID
	d := c.page(s, L.HistoryTitle+" – "+pt.Policy.Name, pt, navHistory)
	data := &historyData{L: L, T: &s.tx.Console}
	d.Data = data
	if vs, err := c.cat.Versions(r.Context(), id); err == nil {
		for _, v := range vs {
			data.Versions = append(data.Versions, historyVersion{Version: v.Version, Published: utcTime(v.PublishedAt), By: v.By,
				Via: orText(s.tx.Console.Via[v.Via], v.Via), Revision: strconv.FormatInt(v.Revision, 10), File: v.File})
		}
	} else if !errors.Is(err, receipts.ErrNoStore) && !errors.Is(err, receipts.ErrNotFound) {
		d.Error = L.Unavailable
		c.render(w, c.failed(err), "history", d)
		return
	}
	ns, err := c.store.Notices(r.Context(), id)
	if err != nil {
		d.Error = L.Unavailable
		c.render(w, c.failed(err), "history", d)
		return
	}
	named := c.revisionNames(r.Context(), &s.tx.Console, id)
	byRev := map[int64][]receipts.Notice{}
	for _, n := range ns {
		data.Notices = append(data.Notices, historyNotice{Revision: n.Revision, Named: named(n.Revision), Lang: n.Lang, URL: noticeURL(id, n.SHA256),
			Short: n.SHA256[:16] + "…", First: utcTime(n.FirstServed), Last: utcTime(n.LastServed)})
		byRev[n.Revision] = append(byRev[n.Revision], n)
	}
	sort.SliceStable(data.Notices, func(i, j int) bool { return data.Notices[i].Revision > data.Notices[j].Revision })
	var revs []int64
	for rev := range byRev {
		revs = append(revs, rev)
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	if len(revs) < 2 {
		c.render(w, http.StatusOK, "history", d)
		return
	}
	from, to := revs[len(revs)-2], revs[len(revs)-1]
	status := http.StatusOK
	for _, f := range []struct {
		key string
		dst *int64
	}{{"from", &from}, {"to", &to}} {
		v := r.URL.Query().Get(f.key)
		if v == "" || d.Error != "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil || n < 1:
			d.Error, status = fmt.Sprintf(L.BadRev, respond.Clip(v, 40)), http.StatusBadRequest
		case byRev[n] == nil:
			d.Error, status = fmt.Sprintf(L.UnknownRev, n), http.StatusBadRequest
		default:
			*f.dst = n
		}
	}
	for _, rev := range revs {
		data.Revisions = append(data.Revisions, historyRevision{N: rev, Named: named(rev), From: rev == from, To: rev == to})
	}
	if d.Error == "" {
		a, b := pickNotices(byRev[from], byRev[to])
		qa, errA := decodeNotice(a)
		qb, errB := decodeNotice(b)
		if err := errors.Join(errA, errB); err != nil {
			c.log.Error("stored notice does not decode", "portal", id, "err", err.Error())
			d.Error, status = err.Error(), http.StatusInternalServerError
		} else {
			data.DiffOf = fmt.Sprintf(L.DiffOf, named(from), named(to))
			for _, ch := range policy.Diff(qa, qb) {
				data.Changes = append(data.Changes, historyChange{Kind: orText(L.Kinds[ch.Kind], ch.Kind), Key: ch.Key,
					Op: orText(L.Ops[ch.Op], ch.Op), Field: ch.Field, From: ch.From, To: ch.To})
			}
		}
	}
	c.render(w, status, "history", d)
}

// pickNotices returns a notice of each revision in one language, the
// first language of b that a has too, else the first of each.
func pickNotices(a, b []receipts.Notice) (receipts.Notice, receipts.Notice) {
	for _, nb := range b {
		for _, na := range a {
			if na.Lang == nb.Lang {
				return na, nb
			}
		}
	}
	return a[0], b[0]
}

func orText(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
