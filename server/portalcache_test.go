package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/site"
)

// TestPortalCacheOption: WithPortalCache caps what the server keeps built;
// with a cap no portal fits, every portal is built for each request and
// answers as its own.
func TestPortalCacheOption(t *testing.T) {
	for _, c := range []struct {
		cap  int64
		kept int
	}{{0, 2}, {1, 0}} {
		s := newReceiptServer(t, openTestStore(t), nil, WithPortalCache(c.cap))
		for range 2 {
			for _, id := range []string{"mtran", "twisto"} {
				res, body := serve(t, s, "GET", "/portals/"+id+"/config.json", nil)
				if res.StatusCode != 200 || !strings.Contains(string(body), `"id":"`+id+`"`) {
					t.Fatalf("cap %d: config.json of %s: %d, not its own", c.cap, id, res.StatusCode)
				}
			}
		}
		if n, _ := s.cat.CacheStats(); n != c.kept {
			t.Errorf("cap %d: %d portals kept, want %d", c.cap, n, c.kept)
		}
	}
}

// TestIndexBounded: the index page lists the first site.IndexMax portals
// by id, and says how many more there are.
func TestIndexBounded(t *testing.T) {
	example := defaultPolicies(t)[0]
	example = copyOf(t, example)
	example.Translations = nil // one language: quick to build
	var ps []*policy.Policy
	for i := range site.IndexMax + 5 {
		p := copyOf(t, example)
		p.ID = fmt.Sprintf("p%04d", i)
		ps = append(ps, p)
	}
	s, err := New(ps, fakeAssetsFS())
	if err != nil {
		t.Fatal(err)
	}
	res, body := serve(t, s, "GET", "/", nil)
	last, next := fmt.Sprintf("/demo/p%04d", site.IndexMax-1), fmt.Sprintf("/demo/p%04d", site.IndexMax)
	if res.StatusCode != 200 || !strings.Contains(string(body), last) || strings.Contains(string(body), next) ||
		!strings.Contains(string(body), "And 5 more portals") {
		t.Errorf("index of %d portals: %d, want the first %d and 5 more said\n%s", len(ps), res.StatusCode, site.IndexMax, body)
	}
}
