package banner

import (
	"html"
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/banner/uitest"
	"github.com/portalconsent/portalconsent/policy"
)

func TestPolicyContentTitle(t *testing.T) {
	p := mtran(t)
	for _, tc := range []struct {
		page bool
		want app.UI
	}{
		{false, app.H2().ID(PolicyTitleID).Class("pc-title")},
		{true, app.H1().ID(PolicyTitleID).Class("pc-title")},
	} {
		c := &PolicyContent{Policy: p, Page: tc.page}
		mount(t, c)
		match(t, app.Article().Class("pc-policy").Lang(p.Texts.Lang), c, 0)
		match(t, tc.want, c, 0, 0)
		match(t, app.Text(p.Texts.PolicyTitle), c, 0, 0, 0)
		match(t, app.P().Class("pc-text"), c, 0, 1)
		match(t, app.Text(p.Texts.PolicyIntro), c, 0, 1, 0)
		if n := len(elements(t, c, "h1", nil)); n != map[bool]int{false: 0, true: 1}[tc.page] {
			t.Errorf("Page=%v: %d <h1>", tc.page, n)
		}
	}
}

func TestPolicyContentShowsTheMTRANPolicy(t *testing.T) {
	p := mtran(t)
	c := &PolicyContent{Policy: p}
	out := render(c)
	wants := []string{
		"<h2 class=\"pc-title\" id=\"pc-policy-title\">Cookies policy</h2>",
		"<h3>What is a cookie?</h3>",
		"https://mtran.my.opendatasoft.com",
		"<h3 id=\"pc-cookies-title\">What cookies are used on the https://mtran.my.opendatasoft.com platform</h3>",
		`<section aria-labelledby="pc-cookies-title" class="pc-cookie-table">`,
	}
	for _, name := range []string{"sessionid", "django_language", "csrftoken", "cookies_preferences"} {
		wants = append(wants, "<code>"+name+"</code>")
	}
	for _, col := range []string{"Service provider's name", "Function and location", "Cookie name(s)", "Purposes", "Category", "Duration"} {
		wants = append(wants, `<th scope="col">`+html.EscapeString(col)+`</th>`)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("policy HTML lacks %s", w)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestPolicyContentSections(t *testing.T) {
	p := mtran(t)
	c := &PolicyContent{Policy: p}
	mount(t, c)
	if len(p.Texts.Sections) == 0 {
		t.Fatal("the default texts have no sections")
	}
	for i, s := range p.Texts.Sections {
		path := []int{0, 2 + i}
		match(t, app.Section(), c, path...)
		match(t, app.H3(), c, at(path, 0)...)
		match(t, app.Text(s.Title), c, at(path, 0, 0)...)
		for j, para := range s.Paragraphs {
			match(t, app.P(), c, at(path, 1+j)...)
			match(t, app.Text(para), c, at(path, 1+j, 0)...)
		}
		if len(s.Terms) > 0 {
			terms := at(path, 1+len(s.Paragraphs))
			match(t, app.Ul().Class("pc-terms"), c, terms...)
			for j, d := range s.Terms {
				match(t, app.Strong(), c, at(terms, j, 0)...)
				match(t, app.Text(d.Term), c, at(terms, j, 0, 0)...)
				match(t, app.Text(" "+d.Meaning), c, at(terms, j, 1)...)
			}
		}
	}
	if p.Texts.Sections[0].Title != "What is a cookie?" {
		t.Errorf("first section is %q", p.Texts.Sections[0].Title)
	}
}

// The MTRAN policy lists necessary cookies only: one table, and no heading for
// the statistical category.
func TestPolicyContentTableOfMTRAN(t *testing.T) {
	p := mtran(t)
	c := &PolicyContent{Policy: p}
	mount(t, c)

	table := []int{0, 2 + len(p.Texts.Sections)}
	match(t, app.Section().Class("pc-cookie-table").Aria("labelledby", "pc-cookies-title"), c, table...)
	match(t, app.H3().ID("pc-cookies-title"), c, at(table, 0)...)
	match(t, app.Text(p.CookiesTitle()), c, at(table, 0, 0)...)
	match(t, app.H4().ID("pc-cookies-necessary"), c, at(table, 1)...)
	match(t, app.Text("Necessary"), c, at(table, 1, 0)...)
	match(t, app.P().Class("pc-category-desc"), c, at(table, 2)...)
	match(t, app.Div().Class("pc-table-wrap").Role("region").Aria("labelledby", "pc-cookies-necessary").TabIndex(0), c, at(table, 3)...)
	if err := app.Match(app.H4(), c, at(table, 4)...); err == nil {
		t.Error("a table is shown for a category without cookies")
	}
	tbl := at(table, 3, 0)
	match(t, app.Table().Class("pc-cookies"), c, tbl...)
	match(t, app.Caption().Class("pc-visually-hidden"), c, at(tbl, 0)...)
	cols := p.Texts.Columns
	for i, label := range []string{cols.Provider, cols.Function, cols.Names, cols.Purpose, cols.Category, cols.Duration} {
		match(t, app.Th().Scope("col"), c, at(tbl, 1, 0, i)...)
		match(t, app.Text(label), c, at(tbl, 1, 0, i, 0)...)
	}
	rows := elements(t, c, "tr", nil)
	if len(rows) != 1+len(p.Cookies) {
		t.Errorf("%d table rows, want a header and %d cookies", len(rows), len(p.Cookies))
	}
	for i, ck := range p.Cookies {
		row := at(tbl, 2, i)
		for j, want := range []string{ck.Provider, ck.Function} {
			match(t, app.Text(want), c, at(row, j, 0)...)
		}
		match(t, app.Td().Class("pc-cookie-names"), c, at(row, 2)...)
		match(t, app.Code(), c, at(row, 2, 0)...)
		match(t, app.Text(ck.Names[0]), c, at(row, 2, 0, 0)...)
		for j, want := range []string{ck.Purpose, "Necessary", ck.Duration} {
			match(t, app.Text(want), c, at(row, 3+j, 0)...)
		}
	}
}

// Cookies are grouped by category in policy order, whatever their order in
// the cookie list; several names are separated by commas.
func TestPolicyContentGroupsCookiesByCategory(t *testing.T) {
	p := mtran(t)
	p.Cookies = append([]policy.Cookie{{
		Provider: "Matomo", Function: "Analytics", Names: []string{"_pk_id", "_pk_ses"},
		Purpose: "Count visits", Category: policy.Statistical, Duration: "13 months",
	}}, p.Cookies...)
	out := render(&PolicyContent{Policy: p})
	necessary := strings.Index(out, `<h4 id="pc-cookies-necessary">Necessary</h4>`)
	statistical := strings.Index(out, `<h4 id="pc-cookies-statistical">Statistical</h4>`)
	if necessary < 0 || statistical < necessary {
		t.Errorf("category headings at %d (necessary) and %d (statistical), want both, necessary first", necessary, statistical)
	}
	if n := strings.Count(out, `<table class="pc-cookies">`); n != 2 {
		t.Errorf("%d tables, want 2", n)
	}
	c := &PolicyContent{Policy: p}
	mount(t, c)
	names := elements(t, c, "td", map[string]string{"class": "pc-cookie-names"})
	if len(names) != len(p.Cookies) {
		t.Fatalf("%d name cells, want %d", len(names), len(p.Cookies))
	}
	// The statistical table comes after the necessary one, so its row is last.
	last := names[len(names)-1]
	kids := uitest.Children(t, last)
	if len(kids) != 1 {
		t.Fatalf("the Matomo names cell has %d children, want one <code>", len(kids))
	}
	match(t, app.Text("_pk_id, _pk_ses"), kids[0], 0)
}

func TestPolicyContentEscapesText(t *testing.T) {
	p := mtran(t)
	p.Texts.PolicyIntro = `<script>alert("x")</script>`
	out := render(&PolicyContent{Policy: p})
	if strings.Contains(out, "<script>") {
		t.Errorf("policy text is not escaped:\n%s", out)
	}
	if !strings.Contains(out, html.EscapeString(p.Texts.PolicyIntro)) {
		t.Errorf("escaped intro missing")
	}
}

func TestPolicyContentNilPolicyRendersAnEmptyDiv(t *testing.T) {
	if got := app.HTMLString(&PolicyContent{}); got != "<div></div>" {
		t.Errorf("nil policy renders %q, want an empty div", got)
	}
	if got := app.HTMLString(&PolicyContent{Page: true}); got != "<div></div>" {
		t.Errorf("nil policy page renders %q, want an empty div", got)
	}
}

func TestPolicyDialogIsLabelledByThePolicyTitle(t *testing.T) {
	p := mtran(t)
	closed := 0
	d := &PolicyDialog{Policy: p, OnClose: func(app.Context) { closed++ }}
	mount(t, d)

	match(t, app.Div().Class("pc-overlay"), d, 0)
	match(t, app.Div().
		ID(PolicyDialogID).Class("pc-dialog").
		Role("dialog").Aria("modal", "true").Aria("labelledby", PolicyTitleID).
		TabIndex(-1).OnKeyDown(noop),
		d, 0, 0)
	match(t, app.Button().
		Type("button").ID(CloseID).Class("pc-close").
		Aria("label", p.Texts.Close).Title(p.Texts.Close).OnClick(noop),
		d, 0, 0, 0)
	// The content is the policy (not a page: its title is an h2).
	match(t, &PolicyContent{Policy: p}, d, 0, 0, 1, 0)
	title := uitest.ByID(t, d, PolicyTitleID)
	if title.Tag() != "h2" {
		t.Errorf("the policy title in the dialog is a <%s>, want <h2>", title.Tag())
	}
	match(t, app.Text(p.Texts.PolicyTitle), title, 0)

	click(t, d, CloseID)
	if closed != 1 {
		t.Errorf("OnClose called %d times, want 1", closed)
	}
}

// After the policy comes Manage cookies, a secondary button that calls
// OnManage (and nothing else).
func TestPolicyDialogManageButton(t *testing.T) {
	p := mtran(t)
	closed, managed := 0, 0
	d := &PolicyDialog{
		Policy:   p,
		OnClose:  func(app.Context) { closed++ },
		OnManage: func(app.Context) { managed++ },
	}
	mount(t, d)
	match(t, app.Div().Class("pc-actions"), d, 0, 0, 1, 1)
	match(t, app.Button().Type("button").ID(ManageID).Class("pc-btn pc-secondary").OnClick(noop), d, 0, 0, 1, 1, 0)
	match(t, app.Text(p.Texts.ManageCookies), d, 0, 0, 1, 1, 0, 0)
	if err := app.Match(app.Div(), d, 0, 0, 1, 2); err == nil {
		t.Error("the policy dialog body has more than the policy and the actions")
	}
	click(t, d, ManageID)
	if managed != 1 || closed != 0 {
		t.Errorf("Manage cookies: OnManage called %d times, OnClose %d; want 1, 0", managed, closed)
	}
	html := render(d)
	if want := `<button class="pc-btn pc-secondary" id="pc-manage" type="button">` + p.Texts.ManageCookies + `</button>`; !strings.Contains(html, want) {
		t.Errorf("policy dialog HTML lacks %s", want)
	}
}

func TestPolicyDialogNilPolicyAndCallback(t *testing.T) {
	if got := app.HTMLString(&PolicyDialog{}); got != "<div></div>" {
		t.Errorf("nil policy renders %q, want an empty div", got)
	}
	d := &PolicyDialog{Policy: mtran(t)}
	mount(t, d)
	click(t, d, CloseID)  // nil OnClose: nothing happens
	click(t, d, ManageID) // nil OnManage: nothing happens
}

func TestPolicyContentGolden(t *testing.T) {
	golden(t, "policy_content", &PolicyContent{Policy: mtran(t)})
}

func TestPolicyPageGolden(t *testing.T) {
	golden(t, "policy_page", &PolicyContent{Policy: mtran(t), Page: true})
}

// TestPolicyContentShowsStorageTypes checks a row that is not cookies shows
// its storage type's label under its names, in the policy's language, in
// the table and in the preferences' list; a cookie row shows none.
func TestPolicyContentShowsStorageTypes(t *testing.T) {
	p := mtran(t)
	p.Texts.Storage = policy.StorageTexts{LocalStorage: "Stockage local", IndexedDB: "Base IndexedDB"}
	p.Cookies = append(p.Cookies,
		policy.Cookie{Provider: "P", Function: "f", Names: []string{"app_state", "draft_*"}, Purpose: "p", Category: "necessary", Duration: "d", Type: policy.TypeLocalStorage},
		policy.Cookie{Provider: "P", Function: "f", Names: []string{"offline"}, Purpose: "p", Category: "necessary", Duration: "d", Type: policy.TypeIndexedDB},
		policy.Cookie{Provider: "P", Function: "f", Names: []string{"tab"}, Purpose: "p", Category: "necessary", Duration: "d", Type: policy.TypeSessionStorage},
	)
	for name, out := range map[string]string{
		"table":       render(&PolicyContent{Policy: p}),
		"preferences": render(&Preferences{Policy: p}),
	} {
		for _, want := range []string{
			`<code>app_state, draft_*</code>`, `<span class="pc-storage-type">Stockage local</span>`,
			`<span class="pc-storage-type">Base IndexedDB</span>`,
			// No label in the texts: the type itself.
			`<span class="pc-storage-type">sessionStorage</span>`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %s", name, want)
			}
		}
		// The three rows above and the built-in necessary row of
		// cookies_preferences_pending (localStorage).
		if n := strings.Count(out, "pc-storage-type"); n != 4 {
			t.Errorf("%s: %d storage type labels, want 4 (none for cookies)", name, n)
		}
	}
}
