/*! Portal Consent loader */
// One tag per page:
//   <script src="https://CONSENT_HOST/embed.js" data-portal="ID" async></script>
// This script runs on every page view. It reads the visitor's choice from the
// cookies_preferences cookie and makes it take effect: consent-gated scripts,
// Google Consent Mode, the cookies of withdrawn categories, the JS API
// window.PortalConsent and the "Manage cookies" links. Only when the banner,
// the preferences or the policy must show does it load the UI script (ui.js:
// the consent frame and the Go app). On any failure: one console error, and the
// page goes on with no optional category enabled.
(() => {
  "use strict";

  // ---- The cookies_preferences codec. It mirrors policy/consent.go (the
  // reference); web/embed_test.js runs both against policy/testdata/cookie-vectors.json.
  var NAME = "cookies_preferences";
  var ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;
  var POS = /^[1-9][0-9]*$/;

  // cookieValue returns the value of name in a document.cookie line, or "".
  function cookieValue(line, name) {
    var parts = line.split(";");
    for (var i = 0; i < parts.length; i++) {
      var p = parts[i], eq = p.indexOf("=");
      if (eq < 0 || p.slice(0, eq).trim() !== name) continue;
      var v = p.slice(eq + 1).trim();
      if (v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"') v = v.slice(1, -1);
      return v;
    }
    return "";
  }

  // positive parses a canonical integer in [1, 2^53-1], else NaN.
  function positive(s) {
    var n = POS.test(s) ? Number(s) : NaN;
    return n <= 9007199254740991 ? n : NaN;
  }

  // decode parses a value: {c: consent} or {e: kind of problem}.
  function decode(v) {
    if (!v) return { e: "missing" };
    if (new TextEncoder().encode(v).length > 1024) return { e: "oversized" };
    var f = v.split("|");
    // Like Go's strconv.Atoi: a canonical version beyond int64 is not ours.
    if (f.length < 2 || !POS.test(f[0]) || f[0].length > 19 ||
      (f[0].length === 19 && f[0] > "9223372036854775807")) return { e: "foreign" };
    if (f[0] !== "1") return { e: "version" };
    var bad = { e: "malformed" };
    if (f.length !== 5) return bad;
    var c = { revision: positive(f[1]), decided: positive(f[2]), id: f[3], choices: [] };
    if (!(c.revision > 0 && c.decided > 0) || !/^[A-Za-z0-9_-]{21}[AQgw]$/.test(c.id)) return bad;
    var seen = {}, items = f[4].split("/");
    for (var i = 0; i < items.length; i++) {
      var eq = items[i].indexOf("="), cat = items[i].slice(0, eq), flag = items[i].slice(eq + 1);
      if (eq < 0 || !ID.test(cat) || (flag !== "0" && flag !== "1") || seen[cat]) return bad;
      seen[cat] = 1;
      c.choices.push([cat, flag === "1"]);
    }
    return { c: c };
  }

  // check returns "" when consent c holds for policy p at now (Unix seconds),
  // else why not: "revision", "expired" or "mismatch".
  function check(c, p, now) {
    if (c.revision !== p.revision) return "revision";
    var age = now - c.decided;
    if (age > (p.lifetimeDays || 182) * 86400 || age < -86400) return "expired";
    if (c.choices.length !== p.categories.length) return "mismatch";
    var seen = {};
    for (var i = 0; i < c.choices.length; i++) {
      var ch = c.choices[i], cat = null;
      for (var j = 0; j < p.categories.length; j++) if (p.categories[j].id === ch[0]) cat = p.categories[j];
      if (!cat || seen[ch[0]] || (cat.required && !ch[1])) return "mismatch";
      seen[ch[0]] = 1;
    }
    return "";
  }

  // current returns {c: consent} when value holds a valid choice for p at now,
  // else {e: kind}.
  function current(value, p, now) {
    var d = decode(value);
    if (d.e) return d;
    var e = check(d.c, p, now);
    return e ? { e: e } : d;
  }


  // matchName reports whether cookie name matches a declared name, where "*"
  // stands for any run of characters (policy.MatchName).
  function matchName(pattern, name) {
    var parts = pattern.split("*");
    if (parts.length === 1) return pattern === name;
    var last = parts.pop(), at = parts[0].length;
    if (name.slice(0, at) !== parts[0]) return false;
    for (var i = 1; i < parts.length; i++) {
      var j = name.indexOf(parts[i], at);
      if (j < 0) return false;
      at = j + parts[i].length;
    }
    return name.length - at >= last.length && name.slice(name.length - last.length) === last;
  }

  // accepts reports whether a category is accepted: required categories always
  // are; the others when the valid consent c (or null) accepts them.
  function accepts(p, c, id) {
    for (var i = 0; i < p.categories.length; i++) if (p.categories[i].id === id && p.categories[i].required) return true;
    if (c) for (i = 0; i < c.choices.length; i++) if (c.choices[i][0] === id) return c.choices[i][1];
    return false;
  }

  // SIGNALS are the Consent Mode v2 signals (policy.ConsentSignals).
  var SIGNALS = ["ad_storage", "analytics_storage", "ad_user_data", "ad_personalization",
    "functionality_storage", "personalization_storage", "security_storage"];

  // signals returns the Consent Mode state for consent c (null: every signal
  // denied): a signal is granted when a category declaring it is accepted
  // (policy.Policy.ConsentMode).
  function signals(p, c) {
    var out = {};
    SIGNALS.forEach((s) => { out[s] = "denied"; });
    if (c) p.categories.forEach((cat) => {
      if (accepts(p, c, cat.id)) (cat.signals || []).forEach((s) => { out[s] = "granted"; });
    });
    return out;
  }

  // toClear returns the names, among the cookie names present, that the
  // consent c (not null) withdraws: they match a declared name of a refused
  // category and none of an accepted one (policy.Policy.ToClear).
  function toClear(p, c, present) {
    return present.filter((n) => {
      var refused = false, kept = n === NAME;
      p.cookies.forEach((row) => {
        row.names.forEach((pat) => {
          if (matchName(pat, n)) accepts(p, c, row.category) ? kept = true : refused = true;
        });
      });
      return refused && !kept;
    });
  }

  var codec = { cookieValue: cookieValue, decode: decode, check: check, current: current, matchName: matchName, signals: signals, toClear: toClear };
  if (typeof document === "undefined") {
    if (typeof module === "object") module.exports = codec;
    return;
  }

  // ---- The loader.
  var script = document.currentScript;
  var done = false;

  // fail logs one clear console error (only the first) and removes the frame.
  function fail(msg, frame) {
    if (frame && frame.parentNode) frame.parentNode.removeChild(frame);
    if (done) return;
    done = true;
    console.error("PortalConsent: " + msg);
  }

  var KEY = "__portalConsentLoaded";
  if (window[KEY]) return; // runs once per page
  Object.defineProperty(window, KEY, { value: true });
  if (!script || !script.src) return fail("embed.js must be loaded by a <script src> tag");
  var portal = script.getAttribute("data-portal") || "";
  if (!ID.test(portal)) return fail('data-portal="' + portal.slice(0, 40) + '" is missing or not a portal id');
  var base = new URL(".", script.src).href;
  var nowSec = () => Math.floor(Date.now() / 1000);
  var gpc = navigator.globalPrivacyControl === true;
  var policy = null, consent = null, cmOn = false, ui = null;
  var ran = {}; // category id -> a script of it ran on this page
  var waiting = []; // on("ready") callbacks

  // Google Consent Mode: "default" (every signal denied) before anything else
  // when the page has a dataLayer or gtag, or once the policy maps signals.
  function gtag() {
    typeof window.gtag === "function" ? window.gtag.apply(window, arguments) : window.dataLayer.push(arguments);
  }
  function consentMode(update) {
    if (!cmOn) {
      if (!Array.isArray(window.dataLayer) && typeof window.gtag !== "function" &&
        !(policy && policy.categories.some((c) => c.signals && c.signals.length))) return;
      cmOn = true;
      window.dataLayer = window.dataLayer || [];
      var d = signals({ categories: [] }, null);
      d.wait_for_update = 500;
      gtag("consent", "default", d);
    }
    if (update && consent) gtag("consent", "update", signals(policy, consent));
  }
  consentMode();

  // The visitor's languages, most wanted first, for the server to match
  // against the policy's: data-lang, else the page's <html lang>, else the
  // browser's.
  var langs = script.getAttribute("data-lang") || document.documentElement.lang || navigator.languages.join();
  var config = fetch(base + "portals/" + portal + "/config.json?lang=" + encodeURIComponent(langs), { credentials: "omit" });
  // document.cookie is read once here: each read is a round trip to the
  // browser's cookie store.
  var line = document.cookie, stored = cookieValue(line, NAME);
  // A visitor with no cookie at all is certainly asked: fetch the UI and make
  // the frame now, while the configuration is on its way.
  var frame = stored ? null : makeFrame();
  if (!stored) loadUI().catch(() => {});
  config
    .then((res) => {
      if (res.status === 404) throw new Error('unknown portal "' + portal + '"');
      if (!res.ok) throw new Error("the consent host answered " + res.status);
      return res.json();
    })
    .then((cfg) => {
      var p = cfg && cfg.policy;
      if (!p || !p.categories || !p.cookies || !cfg.assets || !cfg.banner) throw new Error("malformed portal configuration");
      policy = p;
      shown = cfg; // what the UI shows, when it must
      consent = current(stored, p, nowSec()).c || null;
      apply(line);
      // Later, so that a callback that throws cannot stop the banner.
      waiting.forEach((fn) => { setTimeout(fn, 0, state()); });
      waiting = null;
      var view = want != null ? want : location.hash === "#manage-cookies" ? "preferences" : consent ? null : "";
      if (view == null) { // a returning visitor: nothing to show, no wasm
        if (frame) frame.parentNode.removeChild(frame);
        frame = null;
        return;
      }
      return show(view, wantFrom);
    })
    .catch((err) => {
      fail(err && err.message ? err.message : String(err), frame);
    });

  // makeFrame adds the consent frame, hidden: an about:blank iframe, whose
  // document is the portal's origin's and is ready at once.
  function makeFrame() {
    var f = document.createElement("iframe");
    // Inline !important beats any portal rule: reset everything, then place.
    var css = {
      all: "initial", position: "fixed", left: "0", bottom: "0", width: "100%", height: "0",
      border: "0", "z-index": "2147483647", display: "block", visibility: "hidden"
    };
    for (var k in css) f.style.setProperty(k, css[k], "important");
    f.setAttribute("data-portal-consent", portal);
    (document.body || document.documentElement).appendChild(f);
    return f;
  }

  // load loads a script of the consent host (content-hashed,
  // integrity-checked) once; it resolves to the function it registers as
  // window[key] (and is kept as load[key]).
  function load(path, sri, key) {
    return load[key] || (load[key] = new Promise((resolve, reject) => {
      var s = document.createElement("script");
      s.src = base + path;
      s.integrity = sri;
      s.crossOrigin = "anonymous";
      s.nonce = script.nonce;
      s.onload = () => { resolve(window[key]); };
      s.onerror = () => { reject(new Error(path + " did not load")); };
      document.head.appendChild(s);
    }));
  }
  // loadUI loads ui.js: the frame, the banner, the app.
  function loadUI() { return load("UI_PATH", "UI_SRI", "__portalConsentUI"); }

  // embeds loads the iframes waiting for consent
  // (<iframe data-category="…" data-src="…">) whose category is accepted, and
  // hands the others to embeds.js (loaded only then), which shows a
  // placeholder in place of each and removes those of the loaded ones.
  function embeds() {
    var wait = load.__portalConsentEmbeds;
    document.querySelectorAll("iframe[data-category][data-src]").forEach((f) => {
      accepts(policy, consent, f.getAttribute("data-category")) ?
        (f.src = f.getAttribute("data-src"), f.removeAttribute("data-src")) : wait = 1;
    });
    if (wait) load("EMBEDS_PATH", "EMBEDS_SRI", "__portalConsentEmbeds").then((sync) => {
      sync({ cfg: shown, ui: loadUI, changed: changed });
    }).catch((e) => fail(e.message));
  }

  // show opens the UI: the banner (view ""), the preferences or the policy;
  // with view null it only prepares the UI (the app's download and compile).
  // from is the portal's element the dialog was opened with: focus returns
  // to it when the dialog closes.
  var shown = null, want = null, wantFrom = null;
  function show(view, from) {
    if (!shown) return void (view != null && (want = view, wantFrom = from)); // opened when the configuration is there
    return loadUI().then((start) => {
      if (!ui) {
        ui = start({
          cfg: shown, base: base, gpc: gpc, frame: frame, fail: fail, changed: changed, match: matchName,
          takeFrame: () => { var f = frame || makeFrame(); frame = null; return f; },
          reset: () => { ui = null; }
        });
      }
      if (view != null) ui.open(view, from);
    }).catch((err) => { fail(err.message || String(err), frame); });
  }

  // changed applies a value the visitor just stored. It returns true when a
  // category the visitor refused already had scripts running (they stop only
  // on a reload).
  function changed(value) {
    var c = current(value, policy, nowSec()).c;
    if (!c) return false;
    consent = c;
    apply(document.cookie, true);
    document.dispatchEvent(new CustomEvent("consentchange", { detail: state() }));
    return policy.categories.some((cat) => ran[cat.id] && !accepts(policy, c, cat.id));
  }

  // apply makes the current choice take effect: the cookies of refused
  // categories in the cookie line go (reported when not a change; and, on a change, every declared name
  // without "*", which may sit on a path this page cannot see), Consent Mode
  // is updated, and the accepted scripts run.
  function apply(line, change) {
    consentMode(true);
    embeds();
    if (!consent) return;
    var names = line.split(";").map((s) => s.split("=")[0].trim());
    if (change) policy.cookies.forEach((row) => { names = names.concat(row.names.filter((n) => n.indexOf("*") < 0)); });
    var gone = toClear(policy, consent, names.filter((n, i) => names.indexOf(n) === i));
    gone.forEach(expire);
    // Cookies of a refused category found again on a page view (a script set
    // them again): reported once, by name (cookies/reappeared).
    if (!change && gone[0]) navigator.sendBeacon(base + "portals/" + portal + "/cookies/reappeared",
      JSON.stringify({ revision: policy.revision, names: gone, page: location.origin + location.pathname }));
    activate();
  }

  // expire deletes a cookie on this host and its parent domains, on "/", the
  // paths the policy declares for it and the current path's ancestors.
  function expire(name) {
    var host = location.hostname, domains = [""], paths = ["/"];
    if (!/^[0-9.]+$|:/.test(host)) {
      for (var d = host.split("."); d.length > 1; d.shift()) domains.push("; Domain=." + d.join("."));
    }
    location.pathname.split("/").reduce((acc, seg) => {
      if (seg) paths.push(acc += "/" + seg);
      return acc;
    }, "");
    policy.cookies.forEach((row) => {
      if (row.names.some((pat) => matchName(pat, name))) paths = paths.concat(row.paths || []);
    });
    domains.forEach((dom) => {
      paths.forEach((path) => {
        document.cookie = name + "=; Max-Age=0; Path=" + path + dom;
      });
    });
  }

  // activate runs, in document order, the gated scripts
  // (<script type="text/plain" data-category="…">) of accepted categories that
  // have not run yet. A script with src (or data-src) and no async attribute
  // runs before the next one starts, as the parser would run it.
  var queue = Promise.resolve();
  function activate() {
    if (!consent) return;
    document.querySelectorAll('script[type="text/plain"][data-category]:not([data-consent-ran])').forEach((old) => {
      var cat = old.getAttribute("data-category");
      if (!accepts(policy, consent, cat)) return;
      old.setAttribute("data-consent-ran", "");
      ran[cat] = true;
      queue = queue.then(() => new Promise((next) => {
        var s = document.createElement("script");
        for (var i = 0; i < old.attributes.length; i++) {
          var a = old.attributes[i];
          if (!/^(type|src|nonce|data-(category|src|type|consent-ran))$/.test(a.name)) s.setAttribute(a.name, a.value);
        }
        var type = old.getAttribute("data-type"), src = old.getAttribute("data-src") || old.getAttribute("src");
        if (type) s.type = type;
        s.nonce = old.nonce || old.getAttribute("nonce") || "";
        var wait = src && !old.hasAttribute("async");
        src ? s.src = src : s.text = old.text;
        s.async = !wait;
        if (wait) s.onload = s.onerror = next;
        old.parentNode ? old.parentNode.insertBefore(s, old.nextSibling) : document.head.appendChild(s);
        if (!wait) next();
      }));
    });
  }
  // Gated scripts and embeds the parser or the page adds later are handled too.
  new MutationObserver((records) => {
    if (policy && records.some((r) => [].some.call(r.addedNodes, (n) => n.nodeType === 1 &&
      (n.matches("[data-category]") || n.querySelector("[data-category]"))))) activate(embeds());
  }).observe(document.documentElement, { childList: true, subtree: true });

  // "Manage cookies": [data-consent=preferences] and links to #manage-cookies
  // open the preferences, [data-consent=policy] the policy; elements added
  // later included. Pointing at one, or focusing it, prepares the app.
  function manage(e) {
    var t = e.target.closest && e.target.closest('[data-consent="preferences"],[data-consent="policy"],a[href*="#manage-cookies"]');
    return t && (t.hasAttribute("data-consent") || t.hash === "#manage-cookies") ? t : null;
  }
  document.addEventListener("click", (e) => {
    var t = manage(e);
    if (!t) return;
    e.preventDefault();
    show(t.getAttribute("data-consent") === "policy" ? "policy" : "preferences", t);
  }, true);
  ["pointerover", "focusin"].forEach((type) => {
    document.addEventListener(type, (e) => { if (!ui && manage(e)) show(null); }, true);
  });

  // state is what get() returns and consentchange carries.
  function state() {
    var cats = {};
    if (policy) policy.categories.forEach((cat) => { cats[cat.id] = accepts(policy, consent, cat.id); });
    return {
      ready: !!policy, decided: !!consent, categories: cats, gpc: gpc,
      revision: policy ? policy.revision : null,
      id: consent ? consent.id : null,
      decidedAt: consent ? new Date(consent.decided * 1000).toISOString() : null
    };
  }

  // The JS API (web/portal-consent.d.ts describes it).
  Object.defineProperty(window, "PortalConsent", { value: Object.freeze({
    get: state,
    accepted: (id) => !!policy && accepts(policy, consent, id),
    showPreferences: () => { show("preferences", document.activeElement); },
    showPolicy: () => { show("policy", document.activeElement); },
    on: (name, fn) => {
      if (name === "ready") {
        waiting ? waiting.push(fn) : fn(state());
        return () => { if (waiting) waiting = waiting.filter((f) => f !== fn); };
      }
      if (name !== "consentchange") throw new Error("PortalConsent.on: unknown event " + name);
      var h = (e) => fn(e.detail);
      document.addEventListener(name, h);
      return () => { document.removeEventListener(name, h); };
    }
  }) });
})();
