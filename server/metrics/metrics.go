// Package metrics is the consent host's Prometheus metrics
// (prometheus/client_golang), served in the text format by Handler on an
// address of their own, never on the public one. Every label takes its
// values from a fixed set or from the server's routes and portals, so the
// number of series stays bounded whatever the requests. A nil *Metrics is
// valid and records nothing.
//
//	portalconsent_http_requests_total{route, code}        requests by ServeMux pattern and status
//	portalconsent_http_request_duration_seconds{route}    latency histogram by pattern
//	portalconsent_receipts_accepted_total                 receipts stored (201)
//	portalconsent_receipts_refused_total{reason}          receipts refused, by reason (Reasons)
//	portalconsent_banner_impressions_total{portal}        banners shown (Impression)
//	portalconsent_cookies_reappeared_total{portal}        refused cookies found again (Reappeared)
//	portalconsent_store_errors_total{op}                  receipts store failures: op append or read
//	portalconsent_policy_reloads_total{result}            policy reloads: result applied or failed
//	portalconsent_operators_reloads_total{result}         operators file reloads: applied or failed
//	portalconsent_writer_leases_total                     PostgreSQL writer slots leased again after a lost lease (WriterLeases)
//
// plus the Go runtime's and the process's own (go_*, process_*).
package metrics

import (
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Reasons are the values of the reason label of refused receipts.
var Reasons = []string{"bad-json", "too-large", "bad-value", "bad-method", "bad-lang", "bad-page",
	"bad-undeclared", "bad-storage", "revision", "mismatch", "clock", "origin", "rate-limit", "store", "busy"}

// Metrics holds the server's metrics in a registry of their own.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	accepted    prometheus.Counter
	refused     *prometheus.CounterVec
	impressions *prometheus.CounterVec
	reappeared  *prometheus.CounterVec
	storeErrors *prometheus.CounterVec
	reloads     *prometheus.CounterVec
	opReloads   *prometheus.CounterVec
}

// New returns the metrics, registered, with every fixed series at 0.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portalconsent_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "portalconsent_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portalconsent_receipts_accepted_total", Help: "Receipts stored durably (201).",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portalconsent_receipts_refused_total", Help: "Receipts refused, by reason.",
		}, []string{"reason"}),
		impressions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portalconsent_banner_impressions_total", Help: "Banners shown to visitors, by portal.",
		}, []string{"portal"}),
		reappeared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portalconsent_cookies_reappeared_total", Help: "Declared cookies of a refused category found again on a page view, by portal.",
		}, []string{"portal"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portalconsent_store_errors_total", Help: "Receipts store failures, by operation (append, read).",
		}, []string{"op"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portalconsent_policy_reloads_total", Help: "Policy reloads, by result (applied, failed).",
		}, []string{"result"}),
		opReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portalconsent_operators_reloads_total", Help: "Operators file reloads, by result (applied, failed).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.accepted, m.refused, m.impressions, m.reappeared, m.storeErrors, m.reloads, m.opReloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range Reasons {
		m.refused.WithLabelValues(r)
	}
	for _, op := range []string{"append", "read"} {
		m.storeErrors.WithLabelValues(op)
	}
	for _, r := range []string{"applied", "failed"} {
		m.reloads.WithLabelValues(r)
		m.opReloads.WithLabelValues(r)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request records a request served by the route pattern with the status
// and its duration in seconds. route is a ServeMux pattern ("" for a
// request answered before routing: it is recorded as "none").
func (m *Metrics) Request(route string, code int, seconds float64) {
	if m == nil {
		return
	}
	if route == "" {
		route = "none"
	}
	m.requests.WithLabelValues(route, statusLabel(code)).Inc()
	m.duration.WithLabelValues(route).Observe(seconds)
}

func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return itoa3(code)
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

// ReceiptAccepted records a receipt stored.
func (m *Metrics) ReceiptAccepted() {
	if m != nil {
		m.accepted.Inc()
	}
}

// ReceiptRefused records a receipt refused for reason, one of Reasons
// (anything else is recorded as "other").
func (m *Metrics) ReceiptRefused(reason string) {
	if m == nil {
		return
	}
	if !slices.Contains(Reasons, reason) {
		reason = "other"
	}
	m.refused.WithLabelValues(reason).Inc()
}

// Impression records a banner shown for portal, which must be a portal the
// server serves (the caller checks: the label stays bounded).
func (m *Metrics) Impression(portal string) {
	if m != nil {
		m.impressions.WithLabelValues(portal).Inc()
	}
}

// Reappeared records n cookies of a refused category found again on a page
// of portal, which must be a portal the server serves (the caller checks).
func (m *Metrics) Reappeared(portal string, n int) {
	if m != nil {
		m.reappeared.WithLabelValues(portal).Add(float64(n))
	}
}

// StoreError records a failure of the receipts store: op is "append" or
// "read".
func (m *Metrics) StoreError(op string) {
	if m == nil {
		return
	}
	if op != "append" {
		op = "read"
	}
	m.storeErrors.WithLabelValues(op).Inc()
}

func result(err error) string {
	if err != nil {
		return "failed"
	}
	return "applied"
}

// PolicyReload records a reload of the policy files: err is what applying
// them returned.
func (m *Metrics) PolicyReload(err error) {
	if m != nil {
		m.reloads.WithLabelValues(result(err)).Inc()
	}
}

// OperatorsReload records a reload of the operators file.
func (m *Metrics) OperatorsReload(err error) {
	if m != nil {
		m.opReloads.WithLabelValues(result(err)).Inc()
	}
}

// WriterLeases exports, as portalconsent_writer_leases_total, how many
// times the receipts store leased a writer slot again after losing its
// lease (postgres.Store.Leases), read from leases when scraped. Call it
// once, for a store that has writer leases (PostgreSQL).
func (m *Metrics) WriterLeases(leases func() int64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "portalconsent_writer_leases_total",
		Help: "PostgreSQL writer slots leased again after the store lost its lease (a database restart, a network cut).",
	}, func() float64 { return float64(leases()) }))
}
