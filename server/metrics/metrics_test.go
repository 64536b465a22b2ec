package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMetricsNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.Request("GET /", 200, 0.1)
	m.ReceiptAccepted()
	m.ReceiptRefused("bad-json")
	m.Impression("mtran")
	m.StoreError("append")
	m.PolicyReload(nil)
	m.OperatorsReload(nil)
	m.WriterLeases(func() int64 { return 1 })
}

// TestWriterLeases: the counter reads the store's count when scraped.
func TestWriterLeases(t *testing.T) {
	m := New()
	n := int64(0)
	m.WriterLeases(func() int64 { return n })
	n = 3
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); !strings.Contains(body, "portalconsent_writer_leases_total 3") {
		t.Errorf("no portalconsent_writer_leases_total 3 in\n%s", body)
	}
}

// TestMetricsBoundedLabels: values outside the fixed sets fold into one.
func TestMetricsBoundedLabels(t *testing.T) {
	m := New()
	m.ReceiptRefused("something new")
	m.StoreError("drop table")
	m.Request("", 999, 0.01)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`portalconsent_receipts_refused_total{reason="other"} 1`,
		`portalconsent_store_errors_total{op="read"} 1`,
		`portalconsent_http_requests_total{code="other",route="none"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(body, "something new") || strings.Contains(body, "drop table") {
		t.Error("a free-form value became a label")
	}
}
