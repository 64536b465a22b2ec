// Package operators decides who may read which portal's receipts: the admin
// token (every portal) and the operators of an operators file and of the
// receipts database (SetStored), each with a bcrypt hash of their token
// and the portals they may see.
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
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// MinTokenLen is the shortest token HashToken accepts (as the admin token).
const MinTokenLen = 24

// maxTokenLen is the longest: bcrypt reads only the first 72 bytes.
const maxTokenLen = 72

// AdminName is the principal name of the admin token; no operator may take it.
const AdminName = "admin"

// Operator is one entry of the operators file, or an operator managed by
// the database.
type Operator struct {
	Name      string
	TokenHash string
	// Portals are the portal ids the operator may see; ["*"] is every one.
	Portals []string
	// File is the operators file the operator is managed by (set by
	// Parse); "" for an operator managed by the database.
	File string
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

	mu     sync.RWMutex
	ops    []Operator        // files' then stored, a name once (a file's wins)
	files  []Operator        // SetOperators'
	stored []Operator        // SetStored's
	cache  []cached          // verified tokens; cleared by replace
	gen    uint64            // counts replace
	gone   func([]Principal) // see OnCredentialsGone
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

// NewDigest returns a Set whose admin token is the one of SHA-256 digest
// (as kept in a database shared by several hosts, where only the host
// that made the token knows it), and no operator.
func NewDigest(digest [sha256.Size]byte) *Set {
	return &Set{compare: bcrypt.CompareHashAndPassword, admin: digest, hasAdmin: true}
}

// OnCredentialsGone sets fn to be called by SetOperators with the
// principals whose credential it removed: an operator gone, or given a
// new token hash (their sessions are to be revoked on every host).
func (s *Set) OnCredentialsGone(fn func([]Principal)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone = fn
}

// SetOperators replaces the operators of the operators file and forgets
// every verified token (see replace).
// An operator without File is given "operators file".
func (s *Set) SetOperators(ops []Operator) {
	ops = slices.Clone(ops)
	for i := range ops {
		if ops[i].File == "" {
			ops[i].File = "operators file"
		}
	}
	s.replace(func() { s.files = ops })
}

// SetStored replaces the operators managed by the database (an operator
// of the file of the same name wins over one of them) and forgets every
// verified token (see replace).
func (s *Set) SetStored(ops []Operator) {
	ops = slices.Clone(ops)
	for i := range ops {
		ops[i].File = ""
	}
	s.replace(func() { s.stored = ops })
}

// replace runs set, which replaces s.files or s.stored, then merges them
// into s.ops and forgets every verified token. It calls the
// OnCredentialsGone function, if any, with the principals of the
// credentials no longer configured.
func (s *Set) replace(set func()) {
	s.mu.Lock()
	old, gone := s.ops, s.gone
	set()
	ops := slices.Clone(s.files)
	for _, o := range s.stored {
		if !slices.ContainsFunc(s.files, func(f Operator) bool { return f.Name == o.Name }) {
			ops = append(ops, o)
		}
	}
	s.ops = ops
	s.cache = nil
	s.gen++
	s.mu.Unlock()
	var lost []Principal
	for _, o := range old {
		if !slices.ContainsFunc(ops, func(n Operator) bool { return n.Name == o.Name && n.TokenHash == o.TokenHash }) {
			lost = append(lost, principal(o))
		}
	}
	if gone != nil && len(lost) > 0 {
		gone(lost)
	}
}

// List returns every operator, files' and stored, by name.
func (s *Set) List() []Operator {
	s.mu.RLock()
	out := slices.Clone(s.ops)
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Operator) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// File returns the operators file operator name is managed by, or "" when
// no file names them.
func (s *Set) File(name string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, o := range s.files {
		if o.Name == name {
			return o.File
		}
	}
	return ""
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
