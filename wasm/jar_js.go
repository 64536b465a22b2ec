package main

import (
	"errors"
	"syscall/js"
	"time"

	"github.com/portalconsent/portalconsent/policy"
)

// documentJar is the cookie jar of a document, read and written through
// document.cookie. In the consent frame it is the portal's document (the frame
// is same-origin), so the cookie belongs to the portal's origin.
type documentJar struct {
	doc js.Value
	// secure adds the Secure attribute; true when the page is served over https.
	secure bool
	// domain is the Domain attribute (policy.CookieDomainFor), "" for host-only.
	domain string
}

// newDocumentJar returns the jar of the portal's document: the parent
// document when the frame can reach it, else the frame's own document. The
// choice is stored for cookieDomain when the page's host is in it.
func newDocumentJar(cookieDomain string) documentJar {
	win := js.Global()
	if p := win.Get("parent"); p.Truthy() {
		win = p
	}
	return documentJar{
		doc:    win.Get("document"),
		secure: win.Get("location").Get("protocol").String() == "https:",
		domain: policy.CookieDomainFor(cookieDomain, win.Get("location").Get("hostname").String()),
	}
}

// Get returns the value of the named cookie, reading leniently among junk;
// "" when absent or when document.cookie cannot be read.
func (j documentJar) Get(name string) (value string) {
	defer func() {
		if recover() != nil {
			value = ""
		}
	}()
	return policy.CookieValue(j.doc.Get("cookie").String(), name)
}

// errRefused is returned when the browser did not keep a cookie we wrote.
var errRefused = errors.New("the browser refused the cookies_preferences cookie (cookies blocked?)")

// Set writes the cookie with Path=/, SameSite=Lax, Max-Age and Expires from
// lifetimeDays, and Secure on https, then reads it back: a cookie the browser
// did not keep returns an error.
func (j documentJar) Set(name, value string, lifetimeDays int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errRefused
		}
	}()
	if name != policy.CookieName {
		return errors.New("only the " + policy.CookieName + " cookie is written")
	}
	j.doc.Set("cookie", policy.SetCookie(value, lifetimeDays, time.Now(), j.secure, j.domain))
	if j.Get(name) != value {
		return errRefused
	}
	return nil
}
