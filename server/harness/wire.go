package harness

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Wire records, from the tab's network events, the requests its pages make
// (Network.requestWillBeSent) and the bytes each brought on the wire once
// finished (Network.loadingFinished's encodedDataLength: the response as
// transferred, compressed body and headers included). Chromium reports no
// loadingFinished for a keepalive fetch (a receipt's POST): for a response
// without one, its bytes are the headers' bytes received with it
// (Network.responseReceived's encodedDataLength) plus its Content-Length.
type Wire struct {
	mu    sync.Mutex
	urls  map[network.RequestID]string
	sent  []string
	bytes map[network.RequestID]float64
	enc   map[network.RequestID]string
	early map[network.RequestID]float64
}

// Wire starts recording the tab's network requests; call it before the
// navigation to record.
func (tb *Tab) Wire() *Wire {
	tb.T.Helper()
	w := &Wire{urls: map[network.RequestID]string{}, bytes: map[network.RequestID]float64{}, enc: map[network.RequestID]string{},
		early: map[network.RequestID]float64{}}
	chromedp.ListenTarget(tb.Ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			w.urls[ev.RequestID] = ev.Request.URL
			w.sent = append(w.sent, ev.Request.URL)
		case *network.EventResponseReceived:
			n, _ := strconv.ParseFloat(fmt.Sprint(ev.Response.Headers["Content-Length"]), 64)
			w.early[ev.RequestID] = ev.Response.EncodedDataLength + n
			if e, ok := ev.Response.Headers["Content-Encoding"].(string); ok {
				w.enc[ev.RequestID] = e
			} else if e, ok := ev.Response.Headers["content-encoding"].(string); ok {
				w.enc[ev.RequestID] = e
			}
		case *network.EventLoadingFinished:
			w.bytes[ev.RequestID] += ev.EncodedDataLength
		}
	})
	tb.Run(network.Enable())
	return w
}

// Requested returns the URLs requested so far that contain s.
func (w *Wire) Requested(s string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, u := range w.sent {
		if strings.Contains(u, s) {
			out = append(out, u)
		}
	}
	return out
}

// Bytes returns the bytes on the wire of the finished requests whose URL
// starts with prefix (a host: "http://localhost:PORT/"), and how many they were.
func (w *Wire) Bytes(prefix string) (total float64, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, b := range w.all() {
		if strings.HasPrefix(w.urls[id], prefix) {
			total += b
			n++
		}
	}
	return total, n
}

// Encodings returns the Content-Encoding of each response received from a
// URL that contains s ("" where there was none), by URL.
func (w *Wire) Encodings(s string) map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	for id, u := range w.urls {
		if strings.Contains(u, s) {
			out[u] = w.enc[id]
		}
	}
	return out
}

// Finished returns the bytes on the wire of each finished request whose URL
// starts with prefix, by path and query (the part after prefix), in the
// order requested.
func (w *Wire) Finished(prefix string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for id, b := range w.all() {
		if u := w.urls[id]; strings.HasPrefix(u, prefix) {
			out = append(out, fmt.Sprintf("%s %.0f B", strings.TrimPrefix(u, prefix), b))
		}
	}
	slices.Sort(out)
	return out
}

// all returns the bytes of each response: loadingFinished's, else the
// estimate from its headers (w.mu held).
func (w *Wire) all() map[network.RequestID]float64 {
	out := maps.Clone(w.early)
	maps.Copy(out, w.bytes)
	return out
}
