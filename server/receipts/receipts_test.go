package receipts

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

func sample() *Receipt {
	return &Receipt{
		ID: "01934b7e-0000-7000-8000-000000000001", Portal: "mtran", ConsentID: "q8B3x0aPq1V2LmN7rT4sYw",
		Revision: 3, Choices: []policy.Choice{{Category: "necessary", Accepted: true}, {Category: "statistical", Accepted: false}},
		Method: MethodCustom, Lang: "fr", Page: "https://mtran.example/explore",
		DecidedAt:  time.Unix(1732300000, 0).UTC(),
		ReceivedAt: time.UnixMicro(1732300000123456).UTC(),
		Notice:     strings.Repeat("ab", 32),
	}
}

// TestCanonicalIsStable pins the canonical bytes and hash of a receipt:
// every stored chain depends on them, so they must never change.
func TestCanonicalIsStable(t *testing.T) {
	r := sample()
	r.Seal(1, Genesis)
	const want = `{"v":1,"id":"01934b7e-0000-7000-8000-000000000001","portal":"mtran","seq":1,"consentId":"q8B3x0aPq1V2LmN7rT4sYw","revision":3,"choices":["necessary=1","statistical=0"],"method":"custom","lang":"fr","page":"https://mtran.example/explore","decidedAt":1732300000,"receivedAt":1732300000123456,"notice":"abababababababababababababababababababababababababababababababab","prev":"0000000000000000000000000000000000000000000000000000000000000000"}`
	if got := string(r.Canonical()); got != want {
		t.Fatalf("Canonical =\n%s\nwant\n%s", got, want)
	}
	const wantHash = "83c989e62cad56a0dd42abcc410e1a37496e2e309a52cdb9e699745f09082233"
	if r.Hash != wantHash || r.ComputeHash() != wantHash {
		t.Fatalf("Hash %q, want %q", r.Hash, wantHash)
	}
}

func TestVerifyChain(t *testing.T) {
	chain := func() []*Receipt {
		var out []*Receipt
		prev := Genesis
		for i := int64(1); i <= 4; i++ {
			r := sample()
			r.ConsentID = strings.Repeat(string(rune('a'+i)), 22)
			r.Seal(i, prev)
			prev = r.Hash
			out = append(out, r)
		}
		return out
	}
	iter := func(rs []*Receipt) func() (*Receipt, error) {
		return func() (*Receipt, error) {
			if len(rs) == 0 {
				return nil, nil
			}
			r := rs[0]
			rs = rs[1:]
			return r, nil
		}
	}
	if err := VerifyChain("mtran", 0, Anchor{0, Genesis}, iter(chain())); err != nil {
		t.Fatalf("intact chain: %v", err)
	}
	for _, tt := range []struct {
		name   string
		break_ func([]*Receipt) ([]*Receipt, Anchor)
		seq    int64
		reason string
	}{
		{"altered", func(rs []*Receipt) ([]*Receipt, Anchor) {
			rs[2].Method = MethodAcceptAll
			return rs, Anchor{0, Genesis}
		}, 3, "altered"},
		{"removed", func(rs []*Receipt) ([]*Receipt, Anchor) { return append(rs[:1], rs[2:]...), Anchor{0, Genesis} }, 2, "missing"},
		{"inserted", func(rs []*Receipt) ([]*Receipt, Anchor) {
			f := sample()
			f.Seal(2, strings.Repeat("1", 64))
			rs[1] = f
			return rs, Anchor{0, Genesis}
		}, 2, "does not follow"},
		{"first removed without an anchor", func(rs []*Receipt) ([]*Receipt, Anchor) { return rs[1:], Anchor{0, Genesis} }, 1, "missing"},
		{"anchor of retention", func(rs []*Receipt) ([]*Receipt, Anchor) { return rs[2:], Anchor{2, rs[1].Hash} }, 0, ""},
		{"deleted beyond the anchor", func(rs []*Receipt) ([]*Receipt, Anchor) { return rs[3:], Anchor{2, rs[1].Hash} }, 3, "missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, a := tt.break_(chain())
			err := VerifyChain("mtran", 0, a, iter(rs))
			if tt.seq == 0 {
				if err != nil {
					t.Fatalf("VerifyChain = %v, want nil", err)
				}
				return
			}
			var bl *BrokenLink
			if !errors.As(err, &bl) || bl.Seq != tt.seq || bl.Portal != "mtran" || !strings.Contains(bl.Reason, tt.reason) {
				t.Fatalf("VerifyChain = %v, want a broken link at #%d (%s)", err, tt.seq, tt.reason)
			}
		})
	}
}

func TestChoicesRoundTrip(t *testing.T) {
	cs := sample().Choices
	s := EncodeChoices(cs)
	if s != "necessary=1/statistical=0" {
		t.Fatalf("EncodeChoices = %q", s)
	}
	got, err := DecodeChoices(s)
	if err != nil || EncodeChoices(got) != s {
		t.Fatalf("DecodeChoices(%q) = %v, %v", s, got, err)
	}
	for _, bad := range []string{"necessary", "necessary=2", "NECESSARY=1", "a=1//b=0"} {
		if _, err := DecodeChoices(bad); err == nil {
			t.Errorf("DecodeChoices(%q) accepted", bad)
		}
	}
}

func TestMigrations(t *testing.T) {
	ok := fstest.MapFS{"0002_b.sql": {Data: []byte("B")}, "0001_a.sql": {Data: []byte("A")}}
	ms, err := Migrations(ok)
	if err != nil || len(ms) != 2 || ms[0].Version != 1 || ms[1].SQL != "B" {
		t.Fatalf("Migrations = %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"0001_a.sql": {}, "0003_c.sql": {}},
		"twice":     {"0001_a.sql": {}, "0001_b.sql": {}},
		"bad name":  {"init.sql": {}},
		"not sql":   {"0001_a.txt": {}},
		"version 0": {"0000_a.sql": {}},
	} {
		if _, err := Migrations(fsys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
