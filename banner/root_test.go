package banner

import (
	"strings"
	"testing"

	"github.com/portalconsent/portalconsent/policy"
)

// arabicTexts returns the mtran texts with the banner's in Arabic.
func arabicTexts(t testing.TB) policy.Texts {
	texts := mtran(t).Texts
	texts.Lang = "ar"
	texts.BannerTitle = "ملفات تعريف الارتباط على هذه البوابة"
	texts.BannerText = "نستخدم ملفات تعريف الارتباط لضمان عمل البوابة بشكل صحيح، وبموافقتك، لقياس استخدامها."
	texts.AcceptAll = "قبول الكل"
	texts.RejectAll = "رفض الكل"
	texts.Customize = "تخصيص"
	texts.PolicyLink = "سياسة ملفات تعريف الارتباط"
	return texts
}

// TestRootElementDirection: a right-to-left language sets dir="rtl" on the
// root; any other language sets no dir (left to right, as before).
func TestRootElementDirection(t *testing.T) {
	golden(t, "root_rtl", RootElement("banner", "ar", &Banner{Texts: arabicTexts(t)}))
	for _, tt := range []struct{ lang, want string }{
		{"ar", ` dir="rtl"`}, {"he-IL", ` dir="rtl"`}, {"fa", ` dir="rtl"`}, {"ur", ` dir="rtl"`},
		{"en", ""}, {"fr-CA", ""}, {"", ""}, {"ar-Latn", ""},
	} {
		html := render(RootElement("banner", tt.lang))
		got := ""
		if i := strings.Index(html, ` dir="`); i >= 0 {
			got = html[i : i+len(` dir="rtl"`)]
		}
		if got != tt.want || (tt.want == "" && strings.Contains(html, "dir=")) {
			t.Errorf("RootElement(lang %q) = %s, want dir %q", tt.lang, html, tt.want)
		}
	}
}
