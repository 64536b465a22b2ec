package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portalconsent/portalconsent/server"
	"github.com/portalconsent/portalconsent/server/harness"
	"github.com/portalconsent/portalconsent/server/servertest"
)

// TestBrowserImpressionBeacon: a first visit's banner sends one impression
// beacon, counted under the portal, its revision and the banner's language;
// a returning visitor's page sends none.
func TestBrowserImpressionBeacon(t *testing.T) {
	st := servertest.OpenStore(t)
	h := harness.StartHostsWith(t, []server.Option{server.WithReceipts(st)})
	tb := newTab(t)
	tb.Run(chromedp.Navigate(h.PortalURL("hostile.html", "")))
	tb.WaitBanner()
	p := harness.Policies[0]
	want := fmt.Sprintf("map[%d/%s:1]", p.Revision, p.Texts.Lang)
	count := func() string {
		day := time.Now().UTC().Truncate(24 * time.Hour)
		s, err := st.Stats(context.Background(), p.ID, day, day.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, d := range s.Days {
			for _, g := range d.Groups {
				out[fmt.Sprintf("%d/%s", g.Revision, g.Lang)] += g.Impressions
			}
		}
		return fmt.Sprint(out)
	}
	for deadline := time.Now().Add(5 * time.Second); count() != want && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if got := count(); got != want {
		t.Fatalf("impressions %s, want %s", got, want)
	}
	tb.Click("pc-reject")
	tb.WaitConsent()
	tb.Run(chromedp.Reload())
	tb.WaitReturning()
	time.Sleep(300 * time.Millisecond)
	if got := count(); got != want {
		t.Errorf("after a returning visit: impressions %s, want %s", got, want)
	}
	tb.NoErrors()
}
