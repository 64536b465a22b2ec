package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portalconsent/portalconsent/policy"
	"github.com/portalconsent/portalconsent/server/policyfiles"
)

// fleetPolicy returns the example policy file as portal id's, its choice
// kept lifetime days.
func fleetPolicy(id string, lifetime int) string {
	y := strings.Replace(string(policyfiles.Example()), "id: example", "id: "+id, 1)
	return strings.Replace(y, "lifetimeDays: 182", fmt.Sprintf("lifetimeDays: %d", lifetime), 1)
}

// fleetDo sends a request to h as bob (an operator of every portal).
func fleetDo(t *testing.T, h *host, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+fleetBob)
	if body != "" {
		req.Header.Set("Content-Type", "application/yaml")
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// servedWithin waits until h's config.json of portal answers status with
// a body holding want, and fails the test past 1 s after since.
func servedWithin(t *testing.T, h *host, portal string, status int, want string, since time.Time) time.Duration {
	t.Helper()
	for {
		code, body := fleetDo(t, h, "GET", "/portals/"+portal+"/config.json", "")
		if code == status && strings.Contains(body, want) {
			return time.Since(since)
		}
		if time.Since(since) > time.Second {
			t.Fatalf("host %s: config.json of %s is %d after 1 s, want %d with %q", h.url, portal, code, status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFleetPolicies runs two hosts on one PostgreSQL database: a portal
// published through one host's API is served by the other within a
// second, a new version too, and a receipt of the new revision posted to
// the other host at once is accepted with the notice the publication
// recorded; a portal deleted on one host is unknown on the other within a
// second.
func TestFleetPolicies(t *testing.T) {
	withoutSecretEnv(t)
	dsn := testPostgresDSN(t)
	ctx := context.Background()
	a := startHost(t, ctx, dsn, t.TempDir())
	b := startHost(t, ctx, dsn, t.TempDir())

	code, body := fleetDo(t, a, "PUT", "/api/v1/portals/fleetportal/policy", fleetPolicy("fleetportal", 182))
	published := time.Now()
	if code != 201 {
		t.Fatalf("PUT on host a: %d %s", code, body)
	}
	d := servedWithin(t, b, "fleetportal", 200, `"id":"fleetportal"`, published)
	t.Logf("a new portal served by the other host after %v", d)

	// A new revision; a receipt of it to the other host at once.
	next := fleetPolicy("fleetportal", 190)
	code, body = fleetDo(t, a, "PUT", "/api/v1/portals/fleetportal/policy", next)
	published = time.Now()
	var put struct {
		Revision  int
		AsksAgain bool
	}
	if code != 200 || json.Unmarshal([]byte(body), &put) != nil || !put.AsksAgain {
		t.Fatalf("a new version on host a: %d %s", code, body)
	}
	p, err := policyfiles.ParseBody("fleetportal", []byte(next), "yaml")
	if err != nil || p.Revision != put.Revision {
		t.Fatalf("the published policy: revision %d, %v; the API said %d", p.Revision, err, put.Revision)
	}
	postConsent := func(h *host) (string, string) {
		t.Helper()
		c := policy.NewConsent(p, time.Now(), nil)
		rb := fmt.Sprintf(`{"value":%q,"method":"reject-all","lang":"en","page":"https://data.example.org/p"}`, c.Encode())
		res, err := http.Post(h.url+"/portals/fleetportal/consents", "text/plain;charset=UTF-8", strings.NewReader(rb))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("a receipt of the new revision to %s: %d %s", h.url, res.StatusCode, msg)
		}
		code, got := fleetDo(t, h, "GET", "/api/v1/portals/fleetportal/consents/"+c.ID, "")
		var rs struct {
			Receipts []struct {
				Revision int
				Policy   string
			}
		}
		if code != 200 || json.Unmarshal([]byte(got), &rs) != nil || len(rs.Receipts) != 1 || rs.Receipts[0].Revision != p.Revision {
			t.Fatalf("the receipt: %d %s", code, got)
		}
		return c.ID, rs.Receipts[0].Policy
	}
	_, early := postConsent(b)
	d = servedWithin(t, b, "fleetportal", 200, `"lifetimeDays":190`, published)
	t.Logf("a new version served by the other host after %v", d)
	_, settled := postConsent(b)
	if early != settled {
		t.Errorf("the receipt posted at once names notice %s, the one served names %s", early, settled)
	}

	code, body = fleetDo(t, a, "DELETE", "/api/v1/portals/fleetportal", "")
	deleted := time.Now()
	if code != 204 {
		t.Fatalf("DELETE on host a: %d %s", code, body)
	}
	servedWithin(t, b, "fleetportal", 404, "unknown portal", deleted)
}
