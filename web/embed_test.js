// The loader's cookie codec against the Go codec's verdicts
// (policy/testdata/cookie-vectors.json, written by the Go tests).
// Run: node --test web/
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const path = require("node:path");
const fs = require("node:fs");

const codec = Object.assign({}, require("./embed.js"), require("./ui.js"));
const beyond = require("./beyond.js");
const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "policy", "testdata", "cookie-vectors.json"), "utf8"));

test("values: the loader's verdict is Go's", () => {
  for (const v of vectors.values) {
    const got = codec.current(v.value, vectors.policy, vectors.now);
    assert.strictEqual(got === null, v.error !== "", `${v.name} (${v.error || "valid"}): ${JSON.stringify(v.value)}`);
    if (!v.error) {
      assert.deepStrictEqual(Object.fromEntries(got.choices), v.accepted, v.name);
    }
  }
});

test("kept: a later choice keeps the id Go keeps", () => {
  assert.ok(vectors.values.some((v) => v.kept && v.error === "revision"), "a vector of an older revision keeps its id");
  for (const v of vectors.values) {
    assert.strictEqual(codec.kept(v.value), v.kept, `${v.name}: ${JSON.stringify(v.value)}`);
  }
  // choose keeps the id it is given, and draws one without.
  const kept = vectors.values.find((v) => v.kept).kept;
  assert.strictEqual(codec.choose(vectors.policy, false, vectors.now, kept).id, kept);
  assert.strictEqual(codec.current(codec.encode(codec.choose(vectors.policy, true, vectors.now, kept)), vectors.policy, vectors.now).id, kept);
  assert.notStrictEqual(codec.choose(vectors.policy, false, vectors.now, "").id, kept);
});

test("lines: the loader reads the value Go reads", () => {
  for (const l of vectors.lines) {
    assert.strictEqual(codec.cookieValue(l.line, "cookies_preferences"), l.value, JSON.stringify(l.line));
  }
});

test("encode and choose write values Go accepts", () => {
  for (const all of [true, false]) {
    const c = codec.choose(vectors.policy, all, vectors.now);
    assert.match(c.id, /^[A-Za-z0-9_-]{21}[AQgw]$/);
    const value = codec.encode(c);
    const back = codec.current(value, vectors.policy, vectors.now);
    assert.ok(back, value);
    for (const [cat, accepted] of back.choices) {
      const required = vectors.policy.categories.find((x) => x.id === cat).required;
      assert.strictEqual(accepted, all || !!required, `${cat} in ${value}`);
    }
  }
  // Two choices get different consent ids.
  assert.notStrictEqual(codec.choose(vectors.policy, true, 1).id, codec.choose(vectors.policy, true, 1).id);
});

test("setCookie writes the attributes policy.SetCookie writes", () => {
  const s = codec.setCookie("V", 182, Date.UTC(2026, 0, 1), true);
  assert.strictEqual(s, "cookies_preferences=V; Path=/; Max-Age=15724800; Expires=Thu, 02 Jul 2026 00:00:00 GMT; SameSite=Lax; Secure");
  assert.ok(!codec.setCookie("V", 1, 0, false).includes("Secure"));
});

const rules = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "policy", "testdata", "rule-vectors.json"), "utf8"));

test("matchName: the loader's verdict is Go's", () => {
  for (const n of rules.names) {
    assert.strictEqual(codec.matchName(n.pattern, n.name), n.match, `${n.pattern} ~ ${JSON.stringify(n.name)}`);
  }
});

test("Consent Mode and withdrawal: the loader's rules are Go's", () => {
  for (const v of rules.cases) {
    const c = v.value ? codec.current(v.value, rules.policy, rules.now) : null;
    assert.ok(!v.value || c, `${v.name}: value rejected`);
    assert.deepStrictEqual(codec.signals(rules.policy, c), v.signals, `${v.name}: signals`);
    if (c) assert.deepStrictEqual(codec.toClear(rules.policy, c, v.present), v.clear || [], `${v.name}: to clear`);
  }
});

test("cookieDomainFor: the UI's choice of Domain is Go's", () => {
  for (const d of rules.domains) {
    assert.strictEqual(codec.cookieDomainFor(d.domain, d.host), d.want, `${d.domain} on ${d.host}`);
  }
  assert.strictEqual(codec.setCookie("V", 1, 0, false, "example.org").split("; ")[2], "Domain=example.org");
});

test("undeclared: the UI reports the names Go reports", () => {
  assert.ok(rules.undeclared.length > 5);
  for (const u of rules.undeclared) {
    assert.deepStrictEqual(codec.undeclared(rules.policy, u.line, codec.matchName), u.want || [], JSON.stringify(u.line));
  }
});

test("receipt: the body of a receipt", () => {
  const value = rules.cases[1].value;
  const line = "sessionid=1; cookies_preferences=" + value + "; mystery_tracker=1; _ga=GA1.1; _gat=1";
  const body = codec.receipt(rules.policy, value, "accept-all", line, "https://data.example.org/explore/", codec.matchName);
  assert.strictEqual(typeof body, "string"); // sendBeacon sends a string as text/plain
  assert.deepStrictEqual(JSON.parse(body), {
    value: value, method: "accept-all", lang: "en", page: "https://data.example.org/explore/",
    undeclared: ["mystery_tracker", "_gat"], storage: {}
  });
  // The keys of the page's web storage: the undeclared ones, by type.
  const keys = { localStorage: ["matomo_x", "app_state", "ads_session"], sessionStorage: ["ads_session", "tab"] };
  assert.deepStrictEqual(JSON.parse(codec.receipt(rules.policy, value, "signal", "", "p", codec.matchName, keys)).storage,
    { localStorage: ["app_state", "ads_session"], sessionStorage: ["tab"] });
  // No undeclared cookie: an empty list, not a missing field.
  assert.deepStrictEqual(JSON.parse(codec.receipt(rules.policy, value, "custom", "", "https://x.org/", codec.matchName)).undeclared, []);
  // The value is sent as stored: the server decodes it with the Go codec.
  assert.strictEqual(JSON.parse(codec.receipt(rules.policy, "1|2|3", "reject-all", "", "p", codec.matchName)).value, "1|2|3");
});

test("undeclaredIn: the UI reports the web storage keys Go reports", () => {
  assert.ok(rules.undeclaredStorage.length > 3);
  for (const u of rules.undeclaredStorage) {
    assert.deepStrictEqual(codec.undeclaredIn(rules.policy, u.type, u.keys || [], codec.matchName), u.want || [], JSON.stringify(u.keys));
  }
});

test("beyond.js clears the web storage and IndexedDB names Go clears", () => {
  let n = 0;
  for (const v of rules.cases) {
    if (!v.clearStorage) continue;
    const c = codec.current(v.value, rules.policy, rules.now);
    for (const [typ, want] of Object.entries(v.clearStorage)) {
      const ok = (id) => beyond.accepts(rules.policy, c, id);
      assert.deepStrictEqual(beyond.gone(rules.policy, typ, v.storagePresent, ok, codec.matchName), want || [], `${v.name}: ${typ}`);
      n++;
    }
  }
  assert.ok(n >= 15, n);
});

test("beyond.js reads ADPC decisions per optional category", () => {
  const p = rules.policy; // optional: statistical, marketing, video
  assert.deepStrictEqual(beyond.decide(p, { consent: [], withdraw: ["*"] }), [false, false, false]);
  assert.deepStrictEqual(beyond.decide(p, { consent: ["statistical", "necessary"], withdraw: ["video"] }), [true, undefined, false]);
  // A withdrawal wins over a consent to the same category.
  assert.deepStrictEqual(beyond.decide(p, { consent: ["marketing"], withdraw: ["marketing"] }), [undefined, false, undefined]);
  assert.deepStrictEqual(beyond.decide(p, {}), [undefined, undefined, undefined]);
  assert.deepStrictEqual(beyond.decide(p, null), [undefined, undefined, undefined]);
  assert.deepStrictEqual(beyond.decide(p, { consent: "statistical", withdraw: "*" }), [undefined, undefined, undefined]);
});
