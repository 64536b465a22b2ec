package operators

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Sessions are stateless and signed, so that any consent host behind a load
// balancer sharing the key accepts them: a cookie value is the base64url
// JSON of a Session, a dot, and its HMAC-SHA256 under the key. Sign-out
// revokes a session id until the session could have expired anyway, in
// this process's memory and, with Share, on every host of the database.
const (
	// IdleTimeout is how long a session lasts unused; each use renews it.
	IdleTimeout = 8 * time.Hour
	// MaxAge is how long a session lasts however much it is used.
	MaxAge = 24 * time.Hour
	// MinKeyLen is the shortest session key accepted.
	MinKeyLen = 32
)

// Session is what a session cookie says.
type Session struct {
	ID       string `json:"sid"`
	Name     string `json:"name"` // the principal's
	Cred     string `json:"cred"` // base64url of HMAC(key, principal's Cred), truncated
	IssuedAt int64  `json:"iat"`  // Unix seconds
	LastSeen int64  `json:"seen"` // Unix seconds
}

// Sessions signs and checks session cookies.
type Sessions struct {
	key []byte

	mu      sync.Mutex
	revoked map[string]time.Time // session id → until
	creds   map[string]credRevoked
	shared  Shared       // nil: revocations stay in this process
	log     *slog.Logger // for Shared's failures
	pending []Revocation // not yet published: Follow retries them
}

// credRevoked refuses the sessions of one credential issued at or before at.
type credRevoked struct{ at, until time.Time }

// NewSessions returns Sessions signing with key (at least MinKeyLen bytes).
func NewSessions(key []byte) (*Sessions, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("a session key must be at least 32 bytes")
	}
	return &Sessions{key: append([]byte(nil), key...), revoked: map[string]time.Time{},
		creds: map[string]credRevoked{}, log: slog.New(slog.DiscardHandler)}, nil
}

// RandomKey returns a new random session key.
func RandomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func (s *Sessions) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func (s *Sessions) credTag(p Principal) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("cred", string(p.Cred[:]))[:12])
}

// New returns a new session of p, issued now.
func (s *Sessions) New(p Principal, now time.Time) Session {
	id := make([]byte, 16)
	rand.Read(id)
	return Session{ID: base64.RawURLEncoding.EncodeToString(id), Name: p.Name, Cred: s.credTag(p),
		IssuedAt: now.Unix(), LastSeen: now.Unix()}
}

// Encode returns the signed cookie value of ss.
func (s *Sessions) Encode(ss Session) string {
	b, _ := json.Marshal(ss)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac("session", payload))
}

// Decode checks a cookie value: its signature, its age (idle and absolute)
// at now, and that it is not revoked. It returns the session, not yet
// matched to a principal (see Matches).
func (s *Sessions) Decode(value string, now time.Time) (Session, bool) {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok || len(value) > 1024 {
		return Session{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac("session", payload)) {
		return Session{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Session{}, false
	}
	var ss Session
	if json.Unmarshal(b, &ss) != nil || ss.ID == "" || ss.Name == "" {
		return Session{}, false
	}
	seen, issued := time.Unix(ss.LastSeen, 0), time.Unix(ss.IssuedAt, 0)
	if now.Sub(seen) > IdleTimeout || now.Sub(issued) > MaxAge || seen.Before(issued) || seen.After(now.Add(time.Minute)) {
		return Session{}, false
	}
	s.mu.Lock()
	_, revoked := s.revoked[ss.ID]
	cr, credGone := s.creds[ss.Name+" "+ss.Cred]
	s.mu.Unlock()
	if credGone && ss.IssuedAt <= cr.at.Unix() {
		revoked = true
	}
	return ss, !revoked
}

// Matches reports whether ss was issued for p's current credential: a
// session outlives neither its operator's removal nor a new token hash.
func (s *Sessions) Matches(ss Session, p Principal) bool {
	return ss.Name == p.Name && hmac.Equal([]byte(ss.Cred), []byte(s.credTag(p)))
}

// Revoke refuses session id from now until it would have expired (a
// session revoked is never renewed, so IdleTimeout after its last use),
// on every host when the revocations are shared (see Share).
func (s *Sessions) Revoke(id string, now time.Time) {
	s.revoke(Revocation{Kind: KindSession, ID: id, At: now, Until: now.Add(IdleTimeout)})
}

// RevokeCredential refuses every session of p's credential issued until
// now (an operator removed, or given a new token hash), on every host when
// the revocations are shared: MaxAge from now, none is left to refuse.
func (s *Sessions) RevokeCredential(p Principal, now time.Time) {
	s.revoke(Revocation{Kind: KindCredential, ID: p.Name + " " + s.credTag(p), At: now, Until: now.Add(MaxAge)})
}

// CSRF returns the anti-forgery token of the forms of session id (or,
// before sign-in, of the double-submit cookie's value).
func (s *Sessions) CSRF(id string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", id)[:18])
}

// CheckCSRF reports whether token is the anti-forgery token of id.
func (s *Sessions) CheckCSRF(id, token string) bool {
	return id != "" && hmac.Equal([]byte(token), []byte(s.CSRF(id)))
}
