package server

import (
	"strings"
	"testing"
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
