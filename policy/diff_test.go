package policy

import (
	"reflect"
	"testing"
)

func diffBase() *Policy {
	return &Policy{
		ID: "p", Name: "P", Revision: 1,
		Categories: []Category{
			{ID: Necessary, Name: "Necessary", Description: "Needed", Required: true},
			{ID: Statistical, Name: "Statistics", Description: "Counts", Signals: []string{"analytics_storage"}},
		},
		Cookies: []Cookie{
			{Provider: "P", Function: "site", Names: []string{"csrftoken"}, Purpose: "security", Category: Necessary, Duration: "1 year"},
			{Provider: "Matomo", Function: "stats", Names: []string{"_pk_id.*", "_pk_ses.*"}, Purpose: "visits", Category: Statistical, Duration: "13 months"},
		},
		Texts: Texts{Lang: "en", BannerText: "Hello"},
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(p *Policy)
		want []Change
	}{
		{"nothing", func(p *Policy) {}, nil},
		{"wording outside the compared fields", func(p *Policy) { p.Texts.BannerText = "Hi"; p.Revision = 2; p.Name = "Q" }, nil},
		{"category added", func(p *Policy) {
			p.Categories = append(p.Categories, Category{ID: "marketing", Name: "Marketing"})
		}, []Change{{Kind: "category", Key: "marketing", Op: "added", To: "Marketing"}}},
		{"category removed with its signal", func(p *Policy) { p.Categories = p.Categories[:1] }, []Change{
			{Kind: "category", Key: Statistical, Op: "removed", From: "Statistics"},
			{Kind: "signal", Key: "analytics_storage", Op: "removed", Field: Statistical, From: "granted"},
		}},
		{"category fields", func(p *Policy) {
			p.Categories[1].Name, p.Categories[1].Required = "Audience", true
		}, []Change{
			{Kind: "category", Key: Statistical, Op: "changed", Field: "name", From: "Statistics", To: "Audience"},
			{Kind: "category", Key: Statistical, Op: "changed", Field: "required", From: "false", To: "true"},
		}},
		{"signal added", func(p *Policy) {
			p.Categories[1].Signals = append(p.Categories[1].Signals, "ad_storage")
		}, []Change{{Kind: "signal", Key: "ad_storage", Op: "added", Field: Statistical, To: "granted"}}},
		{"signal moved to another category", func(p *Policy) {
			p.Categories[0].Signals, p.Categories[1].Signals = []string{"analytics_storage"}, nil
		}, []Change{
			{Kind: "signal", Key: "analytics_storage", Op: "added", Field: Necessary, To: "granted"},
			{Kind: "signal", Key: "analytics_storage", Op: "removed", Field: Statistical, From: "granted"},
		}},
		{"cookie row added and removed by its names", func(p *Policy) {
			p.Cookies[1].Names = []string{"_ga"}
		}, []Change{
			{Kind: "cookie", Key: "_ga", Op: "added", To: "statistical, 13 months"},
			{Kind: "cookie", Key: "_pk_id.*, _pk_ses.*", Op: "removed", From: "statistical, 13 months"},
		}},
		{"cookie fields", func(p *Policy) {
			p.Cookies[0].Duration, p.Cookies[0].Paths = "2 years", []string{"/admin"}
		}, []Change{
			{Kind: "cookie", Key: "csrftoken", Op: "changed", Field: "duration", From: "1 year", To: "2 years"},
			{Kind: "cookie", Key: "csrftoken", Op: "changed", Field: "paths", To: "/admin"},
		}},
		{"cookie row moved to localStorage", func(p *Policy) { p.Cookies[0].Type = TypeLocalStorage }, []Change{
			{Kind: "cookie", Key: "csrftoken", Op: "changed", Field: "type", From: "cookie", To: "localStorage"},
		}},
		{"an explicit cookie type is no change", func(p *Policy) { p.Cookies[0].Type = TypeCookie }, nil},
		{"two rows with the same names are both compared", func(p *Policy) {
			p.Cookies = append(p.Cookies, p.Cookies[0])
			p.Cookies[2].Purpose = "login"
		}, []Change{{Kind: "cookie", Key: "csrftoken (2)", Op: "added", To: "necessary, 1 year"}}},
		{"settings", func(p *Policy) { p.LifetimeDays, p.CookieDomain = 30, "example.org" }, []Change{
			{Kind: "setting", Key: "lifetimeDays", Op: "changed", Field: "lifetimeDays", From: "182", To: "30"},
			{Kind: "setting", Key: "cookieDomain", Op: "changed", Field: "cookieDomain", To: "example.org"},
		}},
		{"the default lifetime written out is no change", func(p *Policy) { p.LifetimeDays = DefaultLifetimeDays }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := diffBase(), diffBase()
			tc.edit(b)
			if got := Diff(a, b); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff:\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestDiffNil(t *testing.T) {
	if got := Diff(nil, nil); got != nil {
		t.Errorf("Diff(nil, nil) = %v", got)
	}
	got := Diff(nil, diffBase())
	if len(got) != 5 { // 2 categories, 1 signal, 2 rows; the lifetime stays the default
		t.Errorf("Diff(nil, p) = %d changes, want 5: %#v", len(got), got)
	}
	for _, c := range got {
		if c.Op != "added" {
			t.Errorf("Diff(nil, p) change %#v is not an addition", c)
		}
	}
	if got := Diff(diffBase(), nil); len(got) != 5 {
		t.Errorf("Diff(p, nil) = %d changes, want 5: %#v", len(got), got)
	}
}
