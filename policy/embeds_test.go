package policy_test

import (
	"testing"

	"github.com/portalconsent/portalconsent/policy"
)

// TestEmbedTextsFor checks the placeholder texts: the policy's own where it
// has them, else the built-in texts of the language (of its base language
// for a regional tag), and English for a language the product lacks.
func TestEmbedTextsFor(t *testing.T) {
	for _, tt := range []struct {
		texts      policy.Texts
		title, acc string
	}{
		{policy.Texts{Lang: "en"}, "Content from {provider}", "Accept “{category}” cookies"},
		{policy.Texts{Lang: "fr-CA"}, "Contenu de {provider}", "Accepter les cookies «\u00a0{category}\u00a0»"},
		{policy.Texts{Lang: "de"}, "Inhalt von {provider}", "Cookies „{category}“ akzeptieren"},
		{policy.Texts{Lang: "pt-BR"}, "Conteúdo de {provider}", "Aceitar os cookies «{category}»"},
		{policy.Texts{Lang: "ja"}, "Content from {provider}", "Accept “{category}” cookies"},
		{policy.Texts{Lang: "fr", Embed: policy.EmbedTexts{Title: "Vidéo de {provider}", Accept: " "}}, "Vidéo de {provider}", "Accepter les cookies «\u00a0{category}\u00a0»"},
	} {
		got := policy.EmbedTextsFor(tt.texts)
		if got.Title != tt.title || got.Accept != tt.acc || got.Text == "" || got.Load == "" {
			t.Errorf("EmbedTextsFor(%s, %+v) = %+v, want title %q, accept %q", tt.texts.Lang, tt.texts.Embed, got, tt.title, tt.acc)
		}
	}
}
