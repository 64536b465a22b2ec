/*! Portal Consent loader */
// One tag per page:
//   <script src="https://CONSENT_HOST/embed.js" data-portal="ID" async></script>
// A returning visitor's choice is read from the cookies_preferences cookie and
// applied here: no WebAssembly is fetched. A first visitor sees the banner
// rendered by the server at once, in a same-origin about:blank frame (so the portal's
// links, window handlers, history, storage, DOM and styles are untouched); the Go
// consent app (WebAssembly) then takes it over. On any failure: one console
// error, and the page goes on with no optional category enabled.
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

  // encode returns the cookie value of consent c.
  function encode(c) {
    return ["1", c.revision, c.decided, c.id, c.choices.map((ch) => {
      return ch[0] + "=" + (ch[1] ? 1 : 0);
    }).join("/")].join("|");
  }

  // choose returns a new consent for p: required categories and, when all is
  // true, every other one accepted.
  function choose(p, all, now) {
    var b = crypto.getRandomValues(new Uint8Array(16));
    var id = btoa(String.fromCharCode.apply(null, b)).replace(/\+/g, "-").replace(/\//g, "_").slice(0, 22);
    return { revision: p.revision, decided: now, id: id, choices: p.categories.map((cat) => {
      return [cat.id, !!(all || cat.required)];
    }) };
  }

  // setCookie returns the document.cookie assignment that stores value, like
  // policy.SetCookie.
  function setCookie(value, days, nowMs, secure) {
    return NAME + "=" + value + "; Path=/; Max-Age=" + days * 86400 + "; Expires=" +
      new Date(nowMs + days * 86400000).toUTCString() + "; SameSite=Lax" + (secure ? "; Secure" : "");
  }

  var codec = { cookieValue: cookieValue, decode: decode, check: check, current: current, encode: encode, choose: choose, setCookie: setCookie };
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
  var nowSec = () => { return Math.floor(Date.now() / 1000); };

  // langs returns the visitor's languages, most wanted first, for the server
  // to match against the policy's: data-lang, else the page's <html lang>,
  // else the browser's.
  function langs() {
    return script.getAttribute("data-lang") || document.documentElement.lang || navigator.languages.join();
  }

  var config = fetch(base + "portals/" + portal + "/config.json?lang=" + encodeURIComponent(langs()), { credentials: "omit" });
  // A visitor with no cookie at all is certainly asked: make the frame now,
  // while the configuration is on its way.
  // (document.cookie is read once: each read is a round trip to the browser's
  // cookie store.)
  var stored = cookieValue(document.cookie, NAME);
  var frame = stored ? null : makeFrame();
  config
    .then((res) => {
      if (res.status === 404) throw new Error('unknown portal "' + portal + '"');
      if (!res.ok) throw new Error("the consent host answered " + res.status);
      return res.json();
    })
    .then(start)
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

  function start(cfg) {
    var p = cfg && cfg.policy;
    if (!p || !p.categories || !cfg.assets || !cfg.banner) throw new Error("malformed portal configuration");
    if (current(stored, p, nowSec()).c) { // a returning visitor: nothing to show, no wasm
      if (frame) frame.parentNode.removeChild(frame);
      return;
    }
    show(cfg, p, frame || makeFrame());
  }

  // show displays the server-rendered banner at once and fetches and compiles
  // the app meanwhile (off the main thread). The app starts when the visitor
  // shows intent (pointer over or focus in the banner) or clicks Customize or
  // the policy, and then takes the banner over seamlessly. Accept and Reject
  // clicked before it runs are honoured here.
  function show(cfg, p, frame) {
    var texts = p.texts || {};
    var decided = false, started = false;
    var abort = new AbortController();
    var abs = (u) => { return new URL(u, base).href; };
    var wasmURL = abs(cfg.assets.wasm);
    var opts = { credentials: "omit", signal: abort.signal };
    // Compiled in a worker: in the page, part of V8's compilation runs on the
    // main thread (long tasks). Where the page's CSP forbids a blob: worker, or
    // anything fails there, compile here.
    var worker;
    var moduleReady = new Promise((resolve, reject) => {
      worker = new Worker(URL.createObjectURL(new Blob(["onmessage=e=>WebAssembly.compileStreaming(fetch(e.data)).then(postMessage,x=>postMessage(0))"])));
      worker.onmessage = (e) => { worker.terminate(); e.data ? resolve(e.data) : reject(); };
      worker.onerror = (e) => { e.preventDefault(); worker.terminate(); reject(); };
      worker.postMessage(wasmURL);
    }).catch(() => decided ? 0 : WebAssembly.compileStreaming(fetch(wasmURL, opts)));
    moduleReady.catch(() => {}); // reported once, below
    var win = frame.contentWindow, doc = win.document;
    frame.title = texts.bannerTitle || "Cookie consent";
    doc.title = frame.title;
    doc.documentElement.lang = texts.lang || "en";
    doc.body.innerHTML = cfg.banner;
    doc.body.firstElementChild.setAttribute("data-server", "");
    var conf = win.portalConsentConfig = { policy: JSON.stringify(p), start: "" };
    // Styles through CSSOM: no extra request, and no 'unsafe-inline' needed.
    var sheet = new win.CSSStyleSheet();
    sheet.replaceSync(cfg.css);
    doc.adoptedStyleSheets = [sheet];
    isolate(win);
    var stop = watch(frame, win);

    var runtime = new Promise((resolve, reject) => {
      var s = doc.createElement("script");
      s.src = abs(cfg.assets.wasmExec);
      s.onload = resolve;
      s.onerror = () => {
        reject(new Error("the consent app runtime did not load; check the page's Content-Security-Policy"));
      };
      doc.head.appendChild(s);
    });
    var ready = Promise.all([moduleReady, runtime]);

    // Clicks on the server's banner, before the app replaces it.
    var early = (e) => {
      var t = e.target.closest && e.target.closest("[data-server] button");
      if (!t) return;
      if (t.id === "pc-accept" || t.id === "pc-reject") {
        var c = choose(p, t.id === "pc-accept", nowSec());
        document.cookie = setCookie(encode(c), p.lifetimeDays || 182, Date.now(), location.protocol === "https:");
        if (current(cookieValue(document.cookie, NAME), p, nowSec()).c) {
          decided = true;
          abort.abort();
          if (worker) worker.terminate();
          stop();
          frame.parentNode.removeChild(frame);
        }
      } else if (t.id === "pc-customize" || t.id === "pc-policy") {
        conf.start = t.id === "pc-customize" ? "preferences" : "policy";
        doc.documentElement.style.cursor = "progress";
        t.setAttribute("aria-busy", "true");
        run();
      }
    };
    doc.addEventListener("click", early, true);
    doc.addEventListener("pointerover", run);
    doc.addEventListener("focusin", run);

    // run starts the app once its module and runtime are ready. The app reads
    // portalConsentConfig, takes the banner over, and (app.Root.OnStart) clears
    // go-app's window handlers, keeps focus and sets portalConsentRunning.
    function run() {
      if (started) return;
      started = true;
      ready.then((r) => {
        if (decided) return;
        var go = new win.Go();
        // Instantiate in the frame's realm: Go.run checks instanceof there.
        return win.WebAssembly.instantiate(r[0], go.importObject).then((inst) => {
          if (decided) return;
          return go.run(inst).then(() => {
            var why = win.portalConsentExitReason;
            throw new Error("the consent app stopped" + (why ? ": " + why : " unexpectedly"));
          });
        });
      }).catch(broken);
    }

    // A module or runtime that cannot load is reported at once, not at the
    // first intent.
    ready.catch(broken);
    function broken(err) {
      if (decided || done) return;
      stop();
      var m = String(err && err.message ? err.message : err);
      if (!/consent app (stopped|runtime)/.test(m)) {
        m = "the consent app could not start (" + m + ")" +
          (/unsafe-eval|Content.Security/i.test(m) ? "; a Content-Security-Policy must allow 'wasm-unsafe-eval'" : "");
      }
      fail(m, frame);
    }
  }

  // isolate gives the frame an in-memory localStorage and sessionStorage, so
  // go-app's start-up clean-up never touches the portal's storage (same origin).
  function isolate(win) {
    var m = new Map();
    var store = {
      get length() { return m.size; },
      key: (i) => [...m.keys()][i] ?? null,
      getItem: (k) => m.has(k) ? m.get(k) : null,
      setItem: (k, v) => { m.set(k, String(v)); },
      removeItem: (k) => { m.delete(k); },
      clear: () => { m.clear(); }
    };
    Object.defineProperty(win, "localStorage", { value: store, configurable: true });
    Object.defineProperty(win, "sessionStorage", { value: store, configurable: true });
  }

  // watch sizes the frame to what it shows (data-pc-mode of .pc-root): nothing,
  // the banner at the bottom, or the full viewport while a dialog is open. Focus
  // moves into the frame when a dialog opens and back to the portal when it
  // closes. It returns a function that stops watching.
  function watch(frame, win) {
    var doc = win.document, mode = "", back = null, banner = null;
    var sizer = new win.ResizeObserver(fit);
    var set = (k, v) => { frame.style.setProperty(k, v, "important"); };

    function fit() {
      if (mode !== "banner") return;
      var el = doc.querySelector(".pc-banner");
      set("height", (el ? Math.ceil(el.getBoundingClientRect().height) : 0) + "px");
    }

    function update() {
      var root = doc.querySelector(".pc-root");
      var next = (root && root.getAttribute("data-pc-mode")) || "hidden";
      var el = doc.querySelector(".pc-banner");
      if (el !== banner) {
        if (banner) sizer.unobserve(banner);
        if (el) sizer.observe(el);
        banner = el;
      }
      if (next === mode) return fit();
      var prev = mode;
      mode = next;
      if (mode === "modal") {
        set("top", "0"); set("height", "100%"); set("visibility", "visible");
        // Focusing the frame resets the focus inside it: only when the dialog
        // was opened from the portal, and then the dialog takes focus again.
        if (document.activeElement !== frame) {
          back = document.activeElement;
          frame.focus();
        }
        var dlg = doc.querySelector("[aria-modal]");
        if (dlg && !dlg.contains(doc.activeElement)) dlg.focus();
      } else if (mode === "banner") {
        set("top", "auto"); set("visibility", "visible"); fit();
      } else {
        set("visibility", "hidden"); set("height", "0"); set("top", "auto");
      }
      if (prev === "modal" && mode === "hidden" && back && back.focus) back.focus();
      if (mode !== "modal") back = null;
    }

    var mo = new win.MutationObserver(update);
    mo.observe(doc.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-pc-mode"] });
    update();
    return () => { mo.disconnect(); sizer.disconnect(); };
  }
})();
