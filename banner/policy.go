package banner

import (
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/portalconsent/portalconsent/policy"
)

// PolicyDialogID is the id of the cookie policy dialog element.
const PolicyDialogID = "pc-policy-dialog"

// PolicyTitleID is the id of the policy's title, which labels the dialog.
const PolicyTitleID = "pc-policy-title"

// PolicyContent is the cookie policy: the introduction, the explanatory
// sections ("What is a cookie?", the types of cookies), and the table of the
// portal's cookies grouped by category. Page renders the title as the page's
// <h1>; otherwise it is an <h2> inside a dialog. A nil Policy renders nothing.
type PolicyContent struct {
	app.Compo

	Policy *policy.Policy
	Page   bool
}

// Render implements app.Composer.
func (c *PolicyContent) Render() app.UI {
	p := c.Policy
	if p == nil {
		return app.Div()
	}
	t := p.Texts
	var title app.UI = app.H2().ID(PolicyTitleID).Class("pc-title").Text(t.PolicyTitle)
	if c.Page {
		title = app.H1().ID(PolicyTitleID).Class("pc-title").Text(t.PolicyTitle)
	}
	body := []app.UI{title, app.P().Class("pc-text").Text(t.PolicyIntro)}
	for _, s := range t.Sections {
		body = append(body, section(s))
	}
	body = append(body, c.table(p))
	return app.Article().Class("pc-policy").Lang(t.Lang).Body(body...)
}

func section(s policy.Section) app.UI {
	items := []app.UI{app.H3().Text(s.Title)}
	for _, para := range s.Paragraphs {
		items = append(items, app.P().Text(para))
	}
	if len(s.Terms) > 0 {
		terms := make([]app.UI, 0, len(s.Terms))
		for _, d := range s.Terms {
			terms = append(terms, app.Li().Body(
				app.Strong().Text(d.Term),
				app.Text(" "+d.Meaning),
			))
		}
		items = append(items, app.Ul().Class("pc-terms").Body(terms...))
	}
	return app.Section().Body(items...)
}

// table renders the cookie table, one titled table per category that has
// cookies, in policy order.
func (c *PolicyContent) table(p *policy.Policy) app.UI {
	t := p.Texts
	items := []app.UI{app.H3().ID("pc-cookies-title").Text(p.CookiesTitle())}
	for _, cat := range p.Categories {
		var rows []app.UI
		for _, ck := range p.Cookies {
			if ck.Category != cat.ID {
				continue
			}
			rows = append(rows, app.Tr().Body(
				app.Td().Text(ck.Provider),
				app.Td().Text(ck.Function),
				app.Td().Class("pc-cookie-names").Body(cookieNames(t, ck)...),
				app.Td().Text(ck.Purpose),
				app.Td().Text(cat.Name),
				app.Td().Text(ck.Duration),
			))
		}
		if len(rows) == 0 {
			continue
		}
		// The table may scroll sideways on narrow screens: its wrapper is a
		// focusable region named by the table's heading, so that keyboard users
		// reach and scroll it (WCAG 2.1.1). Category ids are [a-z0-9_-].
		headID := "pc-cookies-" + cat.ID
		items = append(items,
			app.H4().ID(headID).Text(cat.Name),
			app.P().Class("pc-category-desc").Text(cat.Description),
			app.Div().Class("pc-table-wrap").Role("region").Aria("labelledby", headID).TabIndex(0).Body(
				app.Table().Class("pc-cookies").Body(
					app.Caption().Class("pc-visually-hidden").Text(cat.Name),
					app.THead().Body(app.Tr().Body(
						app.Th().Scope("col").Text(t.Columns.Provider),
						app.Th().Scope("col").Text(t.Columns.Function),
						app.Th().Scope("col").Text(t.Columns.Names),
						app.Th().Scope("col").Text(t.Columns.Purpose),
						app.Th().Scope("col").Text(t.Columns.Category),
						app.Th().Scope("col").Text(t.Columns.Duration),
					)),
					app.TBody().Body(rows...),
				),
			),
		)
	}
	return app.Section().Class("pc-cookie-table").Aria("labelledby", "pc-cookies-title").Body(items...)
}

// PolicyDialog shows the cookie policy in a modal dialog labelled by the
// policy's title, followed by a Manage cookies button (#pc-manage) that calls
// OnManage. Escape and the Close button call OnClose. A nil callback makes its
// control do nothing.
type PolicyDialog struct {
	app.Compo

	Policy   *policy.Policy
	OnClose  func(app.Context)
	OnManage func(app.Context)
}

// OnMount implements app.Mounter: focus moves into the dialog.
func (d *PolicyDialog) OnMount(ctx app.Context) { focusDialog(ctx, PolicyDialogID) }

// Render implements app.Composer.
func (d *PolicyDialog) Render() app.UI {
	if d.Policy == nil {
		return app.Div()
	}
	t := d.Policy.Texts
	return dialog(PolicyDialogID, PolicyTitleID, t.Close, d.OnClose,
		&PolicyContent{Policy: d.Policy},
		app.Div().Class("pc-actions").Body(
			button(ManageID, "pc-btn pc-secondary", t.ManageCookies, d.OnManage),
		),
	)
}

// cookieNames renders the names of a row of the cookie table, one text (as
// one node: HTMLString would indent separate nodes into "a , b"), then, for
// a row that is not cookies (policy.Cookie.Type), the label of its storage
// type on a line of its own ("Local storage"; the type itself when the
// texts have no label for it).
func cookieNames(t policy.Texts, ck policy.Cookie) []app.UI {
	out := []app.UI{app.Code().Text(strings.Join(ck.Names, ", "))}
	if kind := ck.Kind(); kind != policy.TypeCookie {
		label := t.Storage.Label(kind)
		if label == "" {
			label = kind
		}
		out = append(out, app.Span().Class("pc-storage-type").Text(label))
	}
	return out
}
