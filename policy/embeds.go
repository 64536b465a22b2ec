package policy

import "strings"

// EmbedTextsFor returns the placeholder texts of t: t.Embed, with each empty
// text taken from the built-in texts of t.Lang (see BuiltinTexts: "pt-BR"
// gets Portuguese, "fr-CA" French), or from the built-in English when the
// product has no texts in that language.
func EmbedTextsFor(t Texts) EmbedTexts {
	def, ok := BuiltinTexts(t.Lang)
	if !ok {
		def, _ = BuiltinTexts("en")
	}
	out := t.Embed
	for _, f := range []struct {
		have *string
		def  string
	}{
		{&out.Title, def.Embed.Title}, {&out.Text, def.Embed.Text}, {&out.Load, def.Embed.Load}, {&out.Accept, def.Embed.Accept},
	} {
		if strings.TrimSpace(*f.have) == "" {
			*f.have = f.def
		}
	}
	return out
}
