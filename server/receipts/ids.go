package receipts

import "regexp"

var (
	consentIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)
	sha256Pattern    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidConsentID reports whether s has the shape of a consent id: 22
// characters of base64url (policy.NewConsentID), as an operator quotes it.
func ValidConsentID(s string) bool { return consentIDPattern.MatchString(s) }

// ValidNoticeHash reports whether s has the shape of a notice's SHA-256
// (NoticeHash): 64 lowercase hexadecimal characters.
func ValidNoticeHash(s string) bool { return sha256Pattern.MatchString(s) }
