/*! Portal Consent loader */
// One tag per page:
//   <script src="https://CONSENT_HOST/embed.js" data-portal="ID" async></script>
// This script runs on every page view. It reads the visitor's choice from the
// cookies_preferences cookie and makes it take effect: consent-gated scripts,
// Google Consent Mode, the cookies of withdrawn categories, the JS API
// window.PortalConsent and the "Manage cookies" links. Only when the banner,
// the preferences or the policy must show does it load the UI script (ui.js:
// the consent frame, the Go app, the receipts); only for embeds waiting for
// consent, embeds.js; only for a change, something to clear or a receipt
// pending, beyond.js. On any failure: one console error, and the page goes
// on with no optional category enabled.
(() => {
  "use strict";

  // ---- The cookies_preferences codec. It mirrors policy/consent.go (the
  // reference); web/embed_test.js runs both against policy/testdata/cookie-vectors.json.
  var NAME = "cookies_preferences";
  var ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;

  // cookieValue returns the value of name (a plain cookie name) in a
  // document.cookie line: the first, trimmed, without the quotes around it;
  // or "".
  function cookieValue(line, name) {
    var v = ((RegExp("(?:^|;)\\s*" + name + "\\s*=([^;]*)").exec(line) || [])[1] || "").trim();
    return /^".*"$/.test(v) ? v.slice(1, -1) : v;
  }

  // decode returns the consent a value holds, or null for a value that
  // policy.Decode refuses (the loader need not tell its errors apart):
  // missing, over 1024 bytes (a value it could accept is ASCII: one byte a
  // character), of another format version, or malformed: the revision and
  // the decision time canonical integers in [1, 2^53-1], the consent id 22
  // base64url characters (16 bytes), each category once.
  function decode(v) {
    var m = v.length <= 1024 && /^1\|([1-9]\d{0,15})\|([1-9]\d{0,15})\|([\w-]{21}[AQgw])\|([a-z\d][a-z\d_-]{0,31}=[01](\/[a-z\d][a-z\d_-]{0,31}=[01])*)$/.exec(v),
      c = m && { revision: +m[1], decided: +m[2], id: m[3], choices: m[4].split("/").map((ch) => [ch.slice(0, -2), ch.slice(-1) === "1"]) };
    return c && Math.max(c.revision, c.decided) <= 9007199254740991 &&
      new Set(c.choices.map((ch) => ch[0])).size === c.choices.length ? c : null;
  }

  // current returns the consent value holds when it is a valid choice for
  // policy p at now (Unix seconds), else null: another revision, older than
  // its lifetime (the policy's refusal lifetime, when set, for a choice that
  // accepts no optional category; else the policy's lifetime) or from more
  // than a day ahead, or not one choice per category with every required one
  // accepted (policy.Current).
  function current(value, p, now) {
    var c = decode(value), cats = p.categories, age = c && now - c.decided;
    var days = p.refusalLifetimeDays && c && c.choices.every((ch) => !ch[1] || cats.some((cat) => cat.id === ch[0] && cat.required)) ?
      p.refusalLifetimeDays : p.lifetimeDays || 182;
    return c && c.revision === p.revision && age <= days * 86400 && age >= -86400 &&
      c.choices.length === cats.length && c.choices.every((ch) => cats.some((cat) => cat.id === ch[0] && (ch[1] || !cat.required))) ? c : null;
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
    return p.categories.some((cat) => cat.id === id && cat.required) || !!c && c.choices.some((ch) => ch[0] === id && ch[1]);
  }

  // SIGNALS are the Consent Mode v2 signals (policy.ConsentSignals).
  var SIGNALS = "ad_storage analytics_storage ad_user_data ad_personalization functionality_storage personalization_storage security_storage".split(" ");

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
  // consent c (not null) withdraws: they match a declared name (of a cookie
  // row: one without a storage type) of a refused category and none of an
  // accepted one (policy.Policy.ToClear).
  function toClear(p, c, present) {
    return present.filter((n) => {
      var refused = false, kept = n === NAME;
      p.cookies.forEach((row) => {
        if (!row.type) row.names.forEach((pat) => {
          if (matchName(pat, n)) accepts(p, c, row.category) ? kept = true : refused = true;
        });
      });
      return refused && !kept;
    });
  }

  // kept returns the consent id of a value policy.Decode accepts (any
  // revision, expired or not), else "": the id a later choice keeps
  // (policy.KeptID; "" draws a new one).
  var kept = (v) => (decode(v) || {}).id || "";

  var codec = { kept: kept, cookieValue: cookieValue, current: current, matchName: matchName, signals: signals, toClear: toClear };
  if (typeof document === "undefined") {
    if (typeof module === "object") module.exports = codec;
    return;
  }

  // ---- The loader.
  var script = document.currentScript;
  var done = false;

  // fail logs one clear console error (only the first); failed, the
  // error's message.
  function fail(msg) {
    if (done) return;
    done = true;
    console.error("PortalConsent: " + msg);
  }
  var failed = (err) => { fail(err && err.message || err); };

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

  // id returns the consent id a choice made now keeps: that of the readable
  // cookies_preferences, else "" (a new one).
  var id = () => kept(cookieValue(document.cookie, NAME));

  // The visitor's languages, most wanted first, for the server to match
  // against the policy's: data-lang, else the page's <html lang>, else the
  // browser's.
  var langs = script.getAttribute("data-lang") || document.documentElement.lang || navigator.languages.join();
  var config = fetch(base + "portals/" + portal + "/config.json?lang=" + encodeURIComponent(langs), { credentials: "omit" });
  // The cookies, read once, as a document.cookie line: through the Cookie
  // Store API where the page has it (asynchronous: the main thread does not
  // wait on the browser's cookie store, which document.cookie does),
  // else through document.cookie.
  var jar = Promise.resolve().then(() => cookieStore.getAll())
    .then((all) => all.map((c) => c.name + "=" + c.value).join("; "), () => document.cookie);
  // A visitor with no cookie at all is certainly asked: fetch the UI now,
  // while the configuration is on its way.
  jar.then((line) => { if (!cookieValue(line, NAME)) loadUI().catch(() => {}); });
  Promise.all([config
    .then((res) => {
      if (!res.ok) throw new Error(res.status === 404 ? 'unknown portal "' + portal + '"' : "the consent host answered " + res.status);
      return res.json();
    }), jar])
    .then((got) => {
      var cfg = got[0], p = cfg && cfg.policy;
      if (!p || !p.categories || !p.cookies || !cfg.assets || !cfg.banner) throw new Error("malformed portal configuration");
      policy = p;
      shown = cfg; // what the UI shows, when it must
      consent = current(cookieValue(got[1], NAME), p, nowSec());
      apply(got[1]);
      // Later, so that a callback that throws cannot stop the banner.
      waiting.forEach((fn) => { setTimeout(fn, 0, state()); });
      waiting = null;
      // The browser's Advanced Data Protection Control, where it has one
      // (beyond.js): its decisions may make the choice (then no banner).
      return navigator.dataProtectionControl && beyond().then((b) => b.adpc(policy, () => consent, loadUI, changed, matchName, id)).catch(failed);
    })
    .then(() => {
      var view = want != null ? want : location.hash === "#manage-cookies" ? "preferences" : consent ? null : "";
      // A returning visitor: nothing to show, no UI, no wasm.
      if (view != null) show(view, wantFrom);
    })
    .catch(failed);

  // beyond loads beyond.js (web storage and IndexedDB, ADPC): config.json
  // names its path, integrity value and global.
  function beyond() {
    return load(...shown.assets.beyond);
  }

  // load loads a script of the consent host (content-hashed,
  // integrity-checked) once; it resolves to the function it registers as
  // window[key] (and is kept as load[key]).
  function load(path, sri, key) {
    return load[key] || (load[key] = new Promise((resolve, reject) => {
      document.head.appendChild(Object.assign(document.createElement("script"), {
        src: base + path, integrity: sri, crossOrigin: "anonymous", nonce: script.nonce,
        onload: () => { resolve(window[key]); },
        onerror: () => { reject(new Error(path + " did not load")); }
      }));
    }));
  }
  // loadUI loads ui.js: the frame, the banner, the app.
  function loadUI() { return load("UI_PATH", "UI_SRI", "__portalConsentUI"); }

  // embeds hands the iframes waiting for consent
  // (<iframe data-category="…" data-src="…">) to embeds.js (loaded only on a
  // page with such iframes), which loads those of accepted categories and
  // shows a placeholder in place of the others.
  function embeds() {
    if (load.__portalConsentEmbeds || document.querySelector("iframe[data-category][data-src]")) {
      load(...shown.assets.embeds).then((sync) => {
        sync({ cfg: shown, ui: loadUI, changed: changed, id: id, fail: fail, accepts: (cat) => accepts(policy, consent, cat) });
      }).catch(failed);
    }
  }

  // show opens the UI: the banner (view ""), the preferences or the policy;
  // with view null it only prepares the UI (the app's download and compile:
  // the visitor shows intent).
  // from is the portal's element the dialog was opened with: focus returns
  // to it when the dialog closes.
  var shown = null, want = null, wantFrom = null;
  function show(view, from) {
    if (!shown) return void (view != null && (want = view, wantFrom = from)); // opened when the configuration is there
    return loadUI().then((start) => {
      if (!ui) {
        ui = start({ cfg: shown, gpc: gpc, fail: fail, changed: changed, id: id, match: matchName, reset: () => { ui = null; }, load });
      }
      ui.open(view, from);
    }).catch(failed);
  }

  // changed applies a value the visitor just stored. It returns true when a
  // category the visitor refused already had scripts running (they stop only
  // on a reload).
  function changed(value) {
    var c = current(value, policy, nowSec());
    if (!c) return false;
    consent = c;
    apply(document.cookie, true);
    document.dispatchEvent(new CustomEvent("consentchange", { detail: state() }));
    return policy.categories.some((cat) => ran[cat.id] && !accepts(policy, c, cat.id));
  }

  // apply makes the current choice take effect: Consent Mode is updated,
  // the cookies of refused categories in the cookie line go (and, on a
  // change, every declared name without "*", which may sit on a path this
  // page cannot see: beyond.js adds them), so do their declared web storage
  // items and IndexedDB databases, and the accepted scripts run. Clearing
  // and sending receipts are beyond.js's: it comes on a change, on a page
  // view where a script set cookies again (reported once by name), and while
  // a receipt is pending (cookies_preferences_pending, written by ui.js).
  function apply(line, change) {
    consentMode(true);
    embeds();
    var gone = consent ? toClear(policy, consent, line.split(";").map((s) => s.split("=")[0].trim())) : [], due;
    try {
      due = localStorage.getItem(NAME + "_pending");
    } catch {}
    if (change || gone[0] || due) beyond().then((b) => { consent && b.clear(policy, consent, matchName, gone, change); b.resend(); }).catch(failed);
    activate();
  }

  // activate runs, in document order, the gated scripts
  // (<script type="text/plain" data-category="…">) of accepted categories that
  // have not run yet. A script with src (or data-src) and no async attribute
  // runs before the next one starts, as the parser would run it.
  var queue = Promise.resolve();
  function activate() {
    if (consent) document.querySelectorAll('script[type="text/plain"][data-category]:not([data-consent-ran])').forEach((old) => {
      var cat = old.getAttribute("data-category"), attr = (n) => old.getAttribute(n);
      if (!accepts(policy, consent, cat)) return;
      old.setAttribute("data-consent-ran", "");
      ran[cat] = true;
      queue = queue.then(() => new Promise((next) => {
        var s = document.createElement("script"), src = attr("data-src") || attr("src"), wait = src && !old.hasAttribute("async");
        [].forEach.call(old.attributes, (a) => {
          if (!/^(type|src|nonce|data-(category|src|type|consent-ran))$/.test(a.name)) s.setAttribute(a.name, a.value);
        });
        if (attr("data-type")) s.type = attr("data-type");
        s.nonce = old.nonce || attr("nonce") || "";
        src ? s.src = src : s.text = old.text;
        s.async = !wait;
        if (wait) s.onload = s.onerror = next;
        // After the placeholder (the end of <head> when it left the page).
        (old.parentNode || document.head).insertBefore(s, old.nextSibling);
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
    return e.target.closest && e.target.closest('[data-consent=preferences],[data-consent=policy],a[href$="#manage-cookies"]');
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
      revision: policy && policy.revision,
      id: consent && consent.id,
      decidedAt: consent && new Date(consent.decided * 1000).toISOString()
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
