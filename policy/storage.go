package policy

// StorageTextsFor returns the labels of the storage types of t: t.Storage,
// with each empty label taken from the built-in texts of t.Lang (see
// BuiltinTexts), or from the built-in English when the product has no texts
// in that language.
func StorageTextsFor(t Texts) StorageTexts {
	def := builtinOrEnglish(t.Lang)
	out := t.Storage
	fillEmpty([][2]*string{{&out.LocalStorage, &def.Storage.LocalStorage}, {&out.SessionStorage, &def.Storage.SessionStorage}, {&out.IndexedDB, &def.Storage.IndexedDB}})
	return out
}

// StoresBeyondCookies reports whether a row of p declares a storage type
// other than cookies (localStorage, sessionStorage, indexedDB).
func (p *Policy) StoresBeyondCookies() bool {
	for _, c := range p.Cookies {
		if c.Kind() != TypeCookie {
			return true
		}
	}
	return false
}
