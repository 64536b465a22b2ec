// Package charts renders the console's charts as small, deterministic SVG
// documents: a stacked bar chart (several series per bar, one bar per day
// or per group) and a horizontal bar chart of shares (0–100 %).
//
// Each chart is accessible on its own: role="img", a <title> and a <desc>
// named by aria-labelledby, a visible legend in text, and each bar carries
// its numbers (a <title> tooltip and data- attributes); the page puts the
// same numbers in a table beside it. Colours come from CSS classes only
// (pc-chart-s0, pc-chart-s1…; no style attribute, so a strict
// style-src 'self' holds), and series after the first also carry a hatch
// or dot pattern so that they differ without colour. All text is escaped.
// The package is the standard library only.
package charts

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Series is one series of a stacked chart: its label in the legend.
type Series struct {
	Label string
}

// Stacked is a stacked bar chart: Bars[i] has Values[i][j] for Series[j].
type Stacked struct {
	// ID prefixes the ids of the chart's elements; it must be unique on the
	// page (only [A-Za-z0-9_-] are kept).
	ID    string
	Title string
	// Desc is read after the title (e.g. what the axes are).
	Desc   string
	Series []Series
	// Bars are the labels under the bars, in order.
	Bars []string
	// Values are the bars' values per series; a missing value is 0, a
	// negative one counts as 0.
	Values [][]int64
	// Format writes a number (axis and tooltips); nil is strconv.FormatInt.
	Format func(int64) string
	// Empty is shown when no bar has a value above 0.
	Empty string
}

// Share is one bar of a share chart.
type Share struct {
	Label string
	// Value is the share, 0 to 1 (clamped; NaN counts as 0).
	Value float64
	// Text is the value as shown beside the bar (e.g. "12,5 %").
	Text string
}

// Shares is a horizontal bar chart of shares, one row per Share.
type Shares struct {
	ID, Title, Desc string
	Rows            []Share
	// Empty is shown when there is no row.
	Empty string
}

const (
	width   = 640
	padL    = 56 // room for the axis labels
	padR    = 8
	padT    = 8
	plotH   = 200
	axisH   = 24 // the bar labels
	legendH = 24
	swatch  = 12
)

func esc(s string) string { return html.EscapeString(s) }

func cleanID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "chart"
	}
	return b.String()
}

// f writes a coordinate with at most two decimals, deterministically.
func f(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// niceCeil returns the smallest of 1, 2, 5 × 10^k (k ≥ 0) at or above v.
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// toInt converts v ≥ 0 to int64, saturating.
func toInt(v float64) int64 {
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Round(v))
}

// defs writes the patterns that tell series apart without colour: series
// 1 hatched, series 2 dotted, series 3 cross-hatched, then again.
func defs(b *strings.Builder, id string, n int) {
	if n < 2 {
		return
	}
	b.WriteString("<defs>")
	for j := 1; j < n; j++ {
		fmt.Fprintf(b, `<pattern id="%s-p%d" width="6" height="6" patternUnits="userSpaceOnUse">`, id, j)
		switch (j - 1) % 3 {
		case 0:
			b.WriteString(`<path class="pc-chart-mark" d="M0 6L6 0"/>`)
		case 1:
			b.WriteString(`<circle class="pc-chart-dot" cx="3" cy="3" r="1.2"/>`)
		case 2:
			b.WriteString(`<path class="pc-chart-mark" d="M0 6L6 0M0 0L6 6"/>`)
		}
		b.WriteString("</pattern>")
	}
	b.WriteString("</defs>")
}

// rect writes a bar of series j (its colour, then its pattern over it).
func rect(b *strings.Builder, id string, j int, x, y, w, h float64, extra string) {
	fmt.Fprintf(b, `<g class="pc-chart-s%d"%s><rect x="%s" y="%s" width="%s" height="%s"/>`, j, extra, f(x), f(y), f(w), f(h))
	if j > 0 {
		fmt.Fprintf(b, `<rect class="pc-chart-pattern" x="%s" y="%s" width="%s" height="%s" fill="url(#%s-p%d)"/>`, f(x), f(y), f(w), f(h), id, j)
	}
}

func open(b *strings.Builder, id, title, desc string, h int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="pc-chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc">`, width, h, id, id)
	fmt.Fprintf(b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, esc(title), id, esc(desc))
}

// SVG returns the chart as an SVG element.
func (c Stacked) SVG() string {
	id := cleanID(c.ID)
	format := c.Format
	if format == nil {
		format = func(n int64) string { return strconv.FormatInt(n, 10) }
	}
	val := func(i, j int) int64 {
		if i < len(c.Values) && j < len(c.Values[i]) && c.Values[i][j] > 0 {
			return c.Values[i][j]
		}
		return 0
	}
	var max float64
	for i := range c.Bars {
		var sum float64
		for j := range c.Series {
			sum += float64(val(i, j))
		}
		max = math.Max(max, sum)
	}
	// Four grid steps of a round size (1, 2 or 5 × 10^k): whole numbers.
	top := 4 * niceCeil(max/4)
	// The legend: one row of swatches and labels, wrapped every 3 series.
	legendRows := (len(c.Series) + 2) / 3
	h := padT + plotH + axisH + legendRows*legendH + 4
	var b strings.Builder
	open(&b, id, c.Title, c.Desc, h)
	defs(&b, id, len(c.Series))
	// The grid and the axis labels: 0, ¼, ½, ¾, 1 of top.
	b.WriteString(`<g class="pc-chart-axis">`)
	for k := 0; k <= 4; k++ {
		y := padT + plotH - float64(plotH)*float64(k)/4
		fmt.Fprintf(&b, `<path class="pc-chart-grid" d="M%d %sH%d"/>`, padL, f(y), width-padR)
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end">%s</text>`, padL-6, f(y+4), esc(format(toInt(top*float64(k)/4))))
	}
	b.WriteString("</g>")
	n := len(c.Bars)
	if max == 0 && c.Empty != "" {
		fmt.Fprintf(&b, `<text class="pc-chart-empty" x="%s" y="%s" text-anchor="middle">%s</text>`, f(float64(padL+width-padR)/2), f(padT+plotH/2), esc(c.Empty))
	}
	if n > 0 {
		slot := float64(width-padL-padR) / float64(n)
		bw := math.Min(48, math.Max(1, slot*0.7))
		// Label every step-th bar so that the labels do not overlap.
		step := (n + 7) / 8
		for i, label := range c.Bars {
			x := float64(padL) + slot*float64(i) + (slot-bw)/2
			y := float64(padT + plotH)
			var parts []string
			for j, s := range c.Series {
				parts = append(parts, s.Label+": "+format(val(i, j)))
			}
			fmt.Fprintf(&b, `<g class="pc-chart-bar" data-label="%s"><title>%s</title>`, esc(label), esc(label+" — "+strings.Join(parts, ", ")))
			for j := range c.Series {
				v := val(i, j)
				if v == 0 {
					continue
				}
				bh := float64(plotH) * float64(v) / top
				y -= bh
				rect(&b, id, j, x, y, bw, bh, fmt.Sprintf(` data-series="%d" data-value="%d"`, j, v))
				b.WriteString("</g>")
			}
			b.WriteString("</g>")
			if i%step == 0 {
				fmt.Fprintf(&b, `<text class="pc-chart-label" x="%s" y="%d" text-anchor="middle">%s</text>`, f(x+bw/2), padT+plotH+16, esc(label))
			}
		}
	}
	fmt.Fprintf(&b, `<path class="pc-chart-baseline" d="M%d %dH%d"/>`, padL, padT+plotH, width-padR)
	// The legend.
	for j, s := range c.Series {
		row, col := j/3, j%3
		x := float64(padL + col*190)
		y := float64(padT + plotH + axisH + row*legendH + 4)
		rect(&b, id, j, x, y, swatch, swatch, "")
		b.WriteString("</g>")
		fmt.Fprintf(&b, `<text class="pc-chart-legend" x="%s" y="%s">%s</text>`, f(x+swatch+6), f(y+swatch-1), esc(s.Label))
	}
	b.WriteString("</svg>")
	return b.String()
}

// SVG returns the chart as an SVG element.
func (c Shares) SVG() string {
	id := cleanID(c.ID)
	const rowH, labelW, textW = 28, 200, 72
	rows := len(c.Rows)
	h := padT*2 + rowH*max(rows, 1)
	var b strings.Builder
	open(&b, id, c.Title, c.Desc, h)
	if rows == 0 && c.Empty != "" {
		fmt.Fprintf(&b, `<text class="pc-chart-empty" x="%d" y="%d" text-anchor="middle">%s</text>`, width/2, padT+rowH/2+4, esc(c.Empty))
	}
	barW := float64(width - labelW - textW - padR)
	for i, r := range c.Rows {
		v := r.Value
		if math.IsNaN(v) || v < 0 {
			v = 0
		}
		v = math.Min(v, 1)
		y := float64(padT + i*rowH)
		fmt.Fprintf(&b, `<g class="pc-chart-share" data-label="%s" data-value="%s"><title>%s</title>`, esc(r.Label), f(v*100), esc(r.Label+": "+r.Text))
		fmt.Fprintf(&b, `<text class="pc-chart-label" x="%d" y="%s" text-anchor="end">%s</text>`, labelW-8, f(y+rowH/2+4), esc(r.Label))
		fmt.Fprintf(&b, `<rect class="pc-chart-track" x="%d" y="%s" width="%s" height="%d"/>`, labelW, f(y+6), f(barW), rowH-12)
		if v > 0 {
			fmt.Fprintf(&b, `<rect class="pc-chart-s0" x="%d" y="%s" width="%s" height="%d"/>`, labelW, f(y+6), f(barW*v), rowH-12)
		}
		fmt.Fprintf(&b, `<text class="pc-chart-value" x="%s" y="%s">%s</text></g>`, f(float64(labelW)+barW+6), f(y+rowH/2+4), esc(r.Text))
	}
	b.WriteString("</svg>")
	return b.String()
}
