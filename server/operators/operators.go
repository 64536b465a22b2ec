// Package operators decides who may read which portal's receipts: the admin
// token (every portal) and the operators of an operators file, each with a
// bcrypt hash of their token and the portals they may see.
//
// The file is YAML, read strictly (an unknown field, a duplicate operator,
// a malformed hash or portal id is refused with file:line):
//
//	operators:
//	  - name: alice
//	    tokenHash: "$2a$10$…"     # server -hash-token < token
//	    portals: [mtran]
//	  - name: dpo
//	    tokenHash: "$2a$10$…"
//	    portals: ["*"]            # every portal
//
// bcrypt is slow by design (tens of milliseconds a check): a Set remembers
// the tokens it verified, by their SHA-256, in memory, bounded, and forgets
// them all when the operators change. Tokens are never logged or kept.
package operators

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/portalconsent/portalconsent/policy"
	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

// MinTokenLen is the shortest token HashToken accepts (as the admin token).
const MinTokenLen = 24

// maxTokenLen is the longest: bcrypt reads only the first 72 bytes.
const maxTokenLen = 72

// AdminName is the principal name of the admin token; no operator may take it.
const AdminName = "admin"

// Operator is one entry of the operators file.
type Operator struct {
	Name      string
	TokenHash string
	// Portals are the portal ids the operator may see; ["*"] is every one.
	Portals []string
}

// Principal is who a credential belongs to and what it may see.
type Principal struct {
	Name string
	// All is true for the admin token and the operators with "*".
	All     bool
	Portals []string // sorted; empty when All
	// Cred identifies the credential as configured now (the SHA-256 of the
	// admin token's digest or of the operator's bcrypt hash): a session
	// signed for another credential of the same name is refused.
	Cred [sha256.Size]byte
}

// Allows reports whether the principal may see portal id.
func (p Principal) Allows(id string) bool {
	if p.Name == "" {
		return false
	}
	if p.All {
		return true
	}
	_, ok := slices.BinarySearch(p.Portals, id)
	return ok
}

// HashToken returns the bcrypt hash of token for the operators file. The
// token must be MinTokenLen to 72 bytes.
func HashToken(token string) (string, error) {
	if len(token) < MinTokenLen {
		return "", fmt.Errorf("a token must be at least %d characters (got %d)", MinTokenLen, len(token))
	}
	if len(token) > maxTokenLen {
		return "", fmt.Errorf("a token must be at most %d bytes (bcrypt reads no more)", maxTokenLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(token), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// cacheSize bounds the verified tokens a Set remembers.
const cacheSize = 256

type cached struct {
	digest [sha256.Size]byte // SHA-256 of the token
	op     int               // index in Set.ops
}

// Set authenticates tokens: the admin token and the operators. It is safe
// for concurrent use; SetOperators replaces the operators at once.
type Set struct {
	admin    [sha256.Size]byte
	hasAdmin bool

	mu    sync.RWMutex
	ops   []Operator
	cache []cached // verified tokens; cleared by SetOperators
	gen   uint64   // counts SetOperators
	// compare is bcrypt.CompareHashAndPassword (counted in tests).
	compare func(hash, token []byte) error
}

// New returns a Set with the admin token (none when "") and no operator.
func New(adminToken string) *Set {
	s := &Set{compare: bcrypt.CompareHashAndPassword}
	if adminToken != "" {
		s.admin, s.hasAdmin = sha256.Sum256([]byte(adminToken)), true
	}
	return s
}

// SetOperators replaces the operators and forgets every verified token.
func (s *Set) SetOperators(ops []Operator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = slices.Clone(ops)
	s.cache = nil
	s.gen++
}

// Operators returns the operators' names, sorted.
func (s *Set) Operators() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, o := range s.ops {
		out = append(out, o.Name)
	}
	sort.Strings(out)
	return out
}

func principal(o Operator) Principal {
	p := Principal{Name: o.Name, Cred: sha256.Sum256([]byte(o.TokenHash))}
	if slices.Contains(o.Portals, "*") {
		p.All = true
	} else {
		p.Portals = slices.Sorted(slices.Values(o.Portals))
	}
	return p
}

func (s *Set) adminPrincipal() Principal {
	return Principal{Name: AdminName, All: true, Cred: sha256.Sum256(s.admin[:])}
}

// Authenticate returns the principal token belongs to: the admin's, or an
// operator's whose hash it matches. Digests are compared in constant time;
// a token verified once is not run through bcrypt again until the
// operators change.
func (s *Set) Authenticate(token string) (Principal, bool) {
	if token == "" {
		return Principal{}, false
	}
	d := sha256.Sum256([]byte(token))
	if s.hasAdmin && subtle.ConstantTimeCompare(d[:], s.admin[:]) == 1 {
		return s.adminPrincipal(), true
	}
	s.mu.RLock()
	ops, gen, hit := s.ops, s.gen, -1
	for _, c := range s.cache { // every entry, in constant time each
		if subtle.ConstantTimeCompare(d[:], c.digest[:]) == 1 {
			hit = c.op
		}
	}
	s.mu.RUnlock()
	if hit >= 0 {
		return principal(ops[hit]), true
	}
	if len(token) > maxTokenLen {
		return Principal{}, false
	}
	for i, o := range ops {
		if s.compare([]byte(o.TokenHash), []byte(token)) != nil {
			continue
		}
		s.mu.Lock()
		if s.gen == gen { // the operators were not replaced meanwhile
			if len(s.cache) >= cacheSize {
				s.cache = s.cache[1:]
			}
			s.cache = append(s.cache, cached{digest: d, op: i})
		}
		s.mu.Unlock()
		return principal(o), true
	}
	return Principal{}, false
}

// Quick reports whether Authenticate would answer token without bcrypt:
// it is the admin token, or a token verified since the operators last
// changed. A caller may rate-limit the others, which cost bcrypt's time.
func (s *Set) Quick(token string) bool {
	d := sha256.Sum256([]byte(token))
	if s.hasAdmin && subtle.ConstantTimeCompare(d[:], s.admin[:]) == 1 {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	hit := 0
	for _, c := range s.cache {
		hit |= subtle.ConstantTimeCompare(d[:], c.digest[:])
	}
	return hit == 1 || len(s.ops) == 0
}

// Lookup returns the principal named name as configured now (for a
// session: a removed operator, or one whose portals changed, is seen at
// once).
func (s *Set) Lookup(name string) (Principal, bool) {
	if name == AdminName {
		return s.adminPrincipal(), s.hasAdmin
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, o := range s.ops {
		if o.Name == name {
			return principal(o), true
		}
	}
	return Principal{}, false
}

// LoadError is a problem of an operators file at a line (0 when unknown).
type LoadError struct {
	File string
	Line int
	Msg  string
}

func (e *LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// maxFileSize bounds an operators file.
const maxFileSize = 1 << 20

// ReadFile reads and checks the operators file at path (see Parse).
func ReadFile(path string) ([]Operator, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &LoadError{File: path, Msg: err.Error()}
	}
	return Parse(path, data)
}

// Parse reads an operators file (file names it in errors). It refuses, with
// every problem as a *LoadError at its line (joined): anything but one
// mapping with the key operators, a list of mappings of exactly name,
// tokenHash and portals; an unknown or repeated field; a name that is not
// 1 to 64 of [A-Za-z0-9._@-] (or is "admin"), or repeated; a tokenHash that
// is not a bcrypt hash; portals empty, with an invalid id, or "*" beside
// others.
func Parse(file string, data []byte) ([]Operator, error) {
	if len(data) > maxFileSize {
		return nil, &LoadError{File: file, Msg: fmt.Sprintf("over %d bytes", maxFileSize)}
	}
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &LoadError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, &LoadError{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &LoadError{File: file, Line: extra.Line, Msg: "a second YAML document: the file holds one"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, &LoadError{File: file, Line: root.Line, Msg: "the file is one mapping with the key operators"}
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "operators" || k.Kind != yaml.ScalarNode {
			bad(k.Line, "unknown field %q (the file has only operators)", k.Value)
			continue
		}
		if list != nil {
			bad(k.Line, "operators: repeated")
			continue
		}
		list = v
	}
	if list == nil {
		if len(errs) == 0 {
			bad(root.Line, "operators: missing")
		}
		return nil, errors.Join(errs...)
	}
	if list.Kind != yaml.SequenceNode {
		bad(list.Line, "operators: not a list")
		return nil, errors.Join(errs...)
	}
	var ops []Operator
	names := map[string]int{}
	for n, item := range list.Content {
		where := fmt.Sprintf("operators[%d]", n)
		if item.Kind != yaml.MappingNode {
			bad(item.Line, "%s: not a mapping of name, tokenHash and portals", where)
			continue
		}
		var o Operator
		seen := map[string]bool{}
		ok := true
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if seen[k.Value] {
				bad(k.Line, "%s: %s: repeated", where, k.Value)
				ok = false
				continue
			}
			seen[k.Value] = true
			switch k.Value {
			case "name":
				if v.Kind != yaml.ScalarNode || !namePattern.MatchString(v.Value) || v.Value == AdminName {
					bad(v.Line, "%s: name: %q is not 1 to 64 of A-Z a-z 0-9 . _ @ - (nor %q, the admin token's)", where, v.Value, AdminName)
					ok = false
				} else if first, dup := names[v.Value]; dup {
					bad(v.Line, "%s: name: %q is already the operator at line %d", where, v.Value, first)
					ok = false
				} else {
					names[v.Value] = v.Line
				}
				o.Name = v.Value
			case "tokenHash":
				if v.Kind != yaml.ScalarNode {
					bad(v.Line, "%s: tokenHash: not a string", where)
					ok = false
				} else if _, err := bcrypt.Cost([]byte(v.Value)); err != nil || !strings.HasPrefix(v.Value, "$2") {
					bad(v.Line, "%s: tokenHash: not a bcrypt hash (make one with server -hash-token)", where)
					ok = false
				}
				o.TokenHash = v.Value
			case "portals":
				if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
					bad(v.Line, "%s: portals: not a list of portal ids (or [\"*\"])", where)
					ok = false
					continue
				}
				for _, pn := range v.Content {
					id := pn.Value
					switch {
					case pn.Kind != yaml.ScalarNode || (id != "*" && !policy.ValidID(id)):
						bad(pn.Line, "%s: portals: %q is not a portal id", where, id)
						ok = false
					case slices.Contains(o.Portals, id):
						bad(pn.Line, "%s: portals: %q repeated", where, id)
						ok = false
					case id == "*" && len(v.Content) > 1:
						bad(pn.Line, "%s: portals: \"*\" (every portal) stands alone", where)
						ok = false
					}
					o.Portals = append(o.Portals, id)
				}
			default:
				bad(k.Line, "%s: unknown field %q (fields: name, tokenHash, portals)", where, k.Value)
				ok = false
			}
		}
		for _, f := range []string{"name", "tokenHash", "portals"} {
			if !seen[f] {
				bad(item.Line, "%s: %s: missing", where, f)
				ok = false
			}
		}
		if ok {
			ops = append(ops, o)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ops, nil
}
