package harness

import (
	"strings"
	"sync"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Wire records, from the tab's network events, the requests its pages make
// (Network.requestWillBeSent) and the bytes each brought on the wire once
// finished (Network.loadingFinished's encodedDataLength: the response as
// transferred, compressed body and headers included).
type Wire struct {
	mu    sync.Mutex
	urls  map[network.RequestID]string
	sent  []string
	bytes map[network.RequestID]float64
}

// Wire starts recording the tab's network requests; call it before the
// navigation to record.
func (tb *Tab) Wire() *Wire {
	tb.T.Helper()
	w := &Wire{urls: map[network.RequestID]string{}, bytes: map[network.RequestID]float64{}}
	chromedp.ListenTarget(tb.Ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			w.urls[ev.RequestID] = ev.Request.URL
			w.sent = append(w.sent, ev.Request.URL)
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
	for id, b := range w.bytes {
		if strings.HasPrefix(w.urls[id], prefix) {
			total += b
			n++
		}
	}
	return total, n
}
