package policy

import "strings"

// EmbedTextsFor returns the placeholder texts of t: t.Embed, with each empty
// text taken from the built-in texts of t.Lang (see BuiltinTexts: "pt-BR"
// gets Portuguese, "fr-CA" French), or from the built-in English when the
// product has no texts in that language.
func EmbedTextsFor(t Texts) EmbedTexts {
	def := builtinOrEnglish(t.Lang)
	out := t.Embed
	fillEmpty([][2]*string{{&out.Title, &def.Embed.Title}, {&out.Text, &def.Embed.Text}, {&out.Load, &def.Embed.Load}, {&out.Accept, &def.Embed.Accept}})
	return out
}

// builtinOrEnglish returns the built-in texts of lang, or the built-in
// English ones when the product has no texts in that language.
func builtinOrEnglish(lang string) Texts {
	def, ok := BuiltinTexts(lang)
	if !ok {
		def, _ = BuiltinTexts("en")
	}
	return def
}

// fillEmpty sets each first string of pairs that is empty (or only space)
// to the second.
func fillEmpty(pairs [][2]*string) {
	for _, p := range pairs {
		if strings.TrimSpace(*p[0]) == "" {
			*p[0] = *p[1]
		}
	}
}
