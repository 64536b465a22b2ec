package policy

import "strings"

// EmbedTextsFor returns the placeholder texts of t: t.Embed, with each empty
// text taken from the built-in French when t.Lang is French, else from the
// built-in English.
func EmbedTextsFor(t Texts) EmbedTexts {
	def := EmbedTexts{
		Title:  "Content from {provider}",
		Text:   "This content is hosted by {provider}, which may set cookies of the category “{category}” when it loads. Load it this time only, or accept these cookies to load all such content.",
		Load:   "Load",
		Accept: "Accept “{category}” cookies",
	}
	if base, _, _ := strings.Cut(strings.ToLower(t.Lang), "-"); base == "fr" {
		def = EmbedTexts{
			Title:  "Contenu de {provider}",
			Text:   "Ce contenu est hébergé par {provider}, qui peut déposer des cookies de la catégorie «\u00a0{category}\u00a0» quand il se charge. Chargez-le cette fois seulement, ou acceptez ces cookies pour charger tous les contenus de ce type.",
			Load:   "Charger",
			Accept: "Accepter les cookies «\u00a0{category}\u00a0»",
		}
	}
	out := t.Embed
	for _, f := range []struct {
		have *string
		def  string
	}{
		{&out.Title, def.Title}, {&out.Text, def.Text}, {&out.Load, def.Load}, {&out.Accept, def.Accept},
	} {
		if strings.TrimSpace(*f.have) == "" {
			*f.have = f.def
		}
	}
	return out
}
