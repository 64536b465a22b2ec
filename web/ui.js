/*! Portal Consent UI */
// Loaded by embed.js (never by a portal directly) when the banner, the
// preferences or the policy must show (or for its codec: an embed's
// placeholder, an ADPC choice); it sends every choice's receipt. It
// shows the server-rendered banner at once in a shadow root of the portal's
// page (the portal's styles cannot reach it); only when the visitor shows
// intent (never merely because the page loaded: a visitor who decides at
// once never downloads it) it fetches and compiles the Go consent app
// (WebAssembly) off the main thread and starts it in the consent frame (a
// same-origin about:blank iframe: the portal's links, window handlers,
// history, storage, DOM and styles stay untouched); the app then takes the
// banner over seamlessly. Accept and Reject clicked before the app runs are
// stored here. Every choice's receipt is sent from here, and kept until the
// consent host acknowledges it (cookies_preferences_pending; embed.js loads
// this script on a page view that finds one, to send it again).
(() => {
  "use strict";
  var NAME = "cookies_preferences";

  // encode returns the cookie value of consent c.
  function encode(c) {
    return ["1", c.revision, c.decided, c.id, c.choices.map((ch) => {
      return ch[0] + "=" + (ch[1] ? 1 : 0);
    }).join("/")].join("|");
  }

  // choose returns a new consent for p: required categories and, when all is
  // true, every other one accepted. It keeps the consent id id (that of the
  // visitor's readable choice: embed.js's kept); without one it draws a new
  // one (policy.NewConsentID).
  function choose(p, all, now, id) {
    var b = crypto.getRandomValues(new Uint8Array(16));
    id = id || btoa(String.fromCharCode.apply(null, b)).replace(/\+/g, "-").replace(/\//g, "_").slice(0, 22);
    return { revision: p.revision, decided: now, id: id, choices: p.categories.map((cat) => {
      return [cat.id, !!(all || cat.required)];
    }) };
  }

  // cookieDomainFor returns the Domain the choice is stored with on a page of
  // host: domain when host is in it, else "" (policy.CookieDomainFor).
  function cookieDomainFor(domain, host) {
    host = host.toLowerCase();
    return domain && (host === domain || host.slice(-domain.length - 1) === "." + domain) ? domain : "";
  }

  // setCookie returns the document.cookie assignment that stores value (for
  // domain when not empty), like policy.SetCookie.
  function setCookie(value, days, nowMs, secure, domain) {
    return NAME + "=" + value + "; Path=/" + (domain ? "; Domain=" + domain : "") + "; Max-Age=" + days * 86400 + "; Expires=" +
      new Date(nowMs + days * 86400000).toUTCString() + "; SameSite=Lax" + (secure ? "; Secure" : "");
  }

  // undeclared returns the names of the cookies of a document.cookie line
  // that no cookie row of p (one without a storage type) declares (match is the loader's matchName; without
  // it, every name): valid
  // names of at most 64 bytes without "*" (a pattern character the host
  // refuses), not cookies_preferences, once each, at most 32
  // (policy.Policy.Undeclared).
  function undeclared(p, line, match) {
    return line.split(";").map((s) => (/^\s*([!#-'+.0-9A-Z^-z|~-]{1,64})\s*=/.exec(s) || [])[1]).filter((n, i, all) =>
      n && n !== NAME && all.indexOf(n) === i && !(match && p.cookies.some((row) => !row.type && row.names.some((pat) => match(pat, n))))).slice(0, 32);
  }

  // undeclaredIn returns the keys of the page's web storage typ
  // ("localStorage" or "sessionStorage") that no row of that type declares
  // (without match, every key): names only, never values; valid names
  // (policy.ValidStorageName) without "*", once each, at most 32
  // (policy.Policy.UndeclaredIn).
  function undeclaredIn(p, typ, keys, match) {
    return keys.filter((n, i, all) => /^[!#-'+\--:<-[\]-~]{1,64}$/.test(n) && all.indexOf(n) === i &&
      !(match && p.cookies.some((row) => row.type === typ && row.names.some((pat) => match(pat, n))))).slice(0, 32);
  }

  // receipt returns the body of the receipt of value, stored with method
  // ("accept-all", "reject-all", "custom" or "signal") on page (origin and
  // path), when the page's cookies were line and the keys of its web storage
  // keys ({localStorage: […], sessionStorage: […]}).
  function receipt(p, value, method, line, page, match, keys) {
    var storage = {};
    for (var t in keys) storage[t] = undeclaredIn(p, t, keys[t], match);
    return JSON.stringify({ value: value, method: method, lang: p.texts.lang, page: page, undeclared: undeclared(p, line, match), storage: storage });
  }

  var codec = { encode: encode, choose: choose, setCookie: setCookie, cookieDomainFor: cookieDomainFor, undeclared: undeclared, undeclaredIn: undeclaredIn, receipt: receipt };
  if (typeof document === "undefined") {
    if (typeof module === "object") module.exports = codec;
    return;
  }

  // The consent host: ui.js is served from its assets/.
  var consentHost = new URL("..", document.currentScript.src).href;

  // send keeps the receipt of a value just stored, with method, for the
  // consent host: the one place receipts are made (the app's choices, the
  // server banner's, an embed placeholder's, an ADPC signal's). Without match
  // (an embed's placeholder, which has not the loader's matchName) every name
  // but cookies_preferences is reported: the consent host drops the names
  // the policy declares. It is kept, due now, in the portal's localStorage
  // under cookies_preferences_pending (part of the consent mechanism,
  // declared in the policies' necessary rows; at most 10 receipts) before
  // anything is posted: the loader's change that every caller makes first
  // loads beyond.js, which posts what is due and keeps what is not
  // acknowledged (so does a later page view, for a page left before the
  // answer). Where the page's storage cannot be written, it is posted once,
  // never waited for.
  function send(p, value, method, match) {
    var keys = {}, k = NAME + "_pending", e = {
      url: consentHost + "portals/" + p.id + "/consents", at: Date.now(), next: 0, n: 0
    };
    ["localStorage", "sessionStorage"].forEach((t) => {
      try {
        keys[t] = Object.keys(window[t]);
      } catch {} // storage the page may not use
    });
    e.body = receipt(p, value, method, document.cookie, location.origin + location.pathname, match, keys);
    try {
      localStorage.setItem(k, JSON.stringify((JSON.parse(localStorage.getItem(k)) || []).concat(e).slice(-10)));
    } catch {
      fetch(e.url, { method: "POST", body: e.body, keepalive: true, credentials: "omit" }).catch(() => {});
    }
  }

  codec.send = send;

  var nowSec = () => Math.floor(Date.now() / 1000);

  // metered tells whether the visitor's network asks for few bytes (Save-Data,
  // or an effective type of slow-2g, 2g or 3g): then pointing at the banner
  // or focusing it does not fetch the wasm, only asking for what needs it. A
  // navigator.connection that is missing, throws or holds odd values counts
  // as a fast network.
  function metered() {
    try {
      var c = navigator.connection;
      return !!c && (c.saveData === true || /^(slow-2g|2g|3g)$/.test(c.effectiveType));
    } catch {
      return false;
    }
  }

  // vv is the visual viewport (where the browser has one). zoomed tells
  // whether it is not the layout viewport (position: fixed follows the
  // latter): on a phone, a page wider than the screen widens the layout
  // viewport, and pinch-zoom shrinks the visual one. The layout viewport is
  // innerWidth × innerHeight, scrollbars included: a difference under 30px
  // is theirs.
  var vv = window.visualViewport;
  var zoomed = () => vv && (vv.scale > 1.001 || innerWidth - vv.width > 30 || innerHeight - vv.height > 30);
  // onViewport calls fn on every change of the visual viewport (which also
  // follows the window's); it returns a function that stops.
  function onViewport(fn) {
    var listen = (on) => { ["resize", "scroll"].forEach((e) => { (vv || window)[on + "EventListener"](e, fn); }); };
    listen("add");
    return () => { listen("remove"); };
  }

  // pin sets CSS properties on an element of the portal's page, inline and
  // !important: nothing of the page can change them.
  function pin(el, css) {
    for (var k in css) el.style.setProperty(k, css[k], "important");
  }

  // The loader calls this with its context: {cfg, gpc, fail(msg),
  // changed(value) -> reload advised, id() -> the consent id a choice
  // keeps, match(pattern, name), reset(), load(path, sri, global) ->
  // the global of a script of the consent host}. It
  // returns {open(view, from)}: view "" shows the banner, "preferences" or
  // "policy" a dialog, null only prepares the app (the visitor shows
  // intent); from is the portal's element that opened it (focus returns
  // there).
  //
  // The server's banner shows in a shadow root of an element of the page
  // (the host): the page's selectors cannot reach into it and the host
  // resets everything it could inherit (banner.css, :host). The Go app runs
  // in the consent frame, made only when the app starts (a frame costs the
  // page a long task): the visitor's intent. Its first render takes the
  // banner over: the frame shows, the host goes, in one task.
  window.__portalConsentUI = (ctx) => {
    var cfg = ctx.cfg, p = cfg.policy, texts = p.texts || {};
    var abs = (u) => new URL(u, consentHost).href;
    var slow = metered();
    var decided = false, started = false;
    var abort = new AbortController();
    var wasmURL = abs(cfg.assets.wasm);
    // The server's banner: its host, shadow root and viewport listener.
    var host = null, shadow = null, unplace = null;
    // impression is the impression beacon's [url, body] until it is sent
    // (beacon, from the page: no worker is there to send it off the main
    // thread, the app being fetched only on intent).
    var impression = null;
    function beacon() {
      try {
        if (impression) navigator.sendBeacon(impression[0], impression[1]);
      } catch {}
      impression = null;
    }
    // The frame, its window and document, and what stops watching it.
    var frame = null, win = null, doc = null, stop = null, conf = null;
    // opener is the portal's element the next dialog was opened with; watch
    // takes it when the dialog shows.
    var opener = null, dialogs = null;

    // stored makes a value just stored take effect (the loader's changed),
    // then keeps its receipt to send. It returns changed's answer.
    var stored = (value, method) => {
      var reload = ctx.changed(value);
      send(p, value, method, ctx.match);
      return reload;
    };

    // The app's module and runtime are fetched on the visitor's intent
    // (prepare), never before. The module is compiled in a worker: in the
    // page, part of V8's compilation runs on the main thread (long tasks).
    // Where the page's CSP forbids a blob: worker, or anything fails there,
    // it is compiled here.
    // The worker also fetches the runtime (small) into the HTTP cache: the
    // frame runs it when the app starts.
    var module = null, worker = null;
    function stopWorker() {
      if (worker) worker.terminate();
      worker = null;
    }
    // prefs fetches, once, prefs.js and dialogs.json: the server's
    // preferences and policy dialog, for Customize and the policy on the
    // server's banner (fetched on intent too: then they open at once).
    function prefs() {
      return dialogs = dialogs || Promise.all([ctx.load(...cfg.assets.prefs), fetch(consentHost + "portals/" + p.id + "/dialogs.json?lang=" + texts.lang, { credentials: "omit" }).then((r) => r.json())]);
    }
    function prepare() {
      if (decided || module) return;
      if (host) prefs().catch(() => {});
      var mine = module = new Promise((resolve, reject) => {
        var w, failed = () => { if (!w || w === worker) stopWorker(); reject(); };
        try {
          w = worker = new Worker(URL.createObjectURL(new Blob(["onmessage=e=>{var d=e.data,o={credentials:'omit',priority:'high'};" +
            "fetch(d[1],o).then(r=>r.arrayBuffer()).catch(x=>0);" +
            "WebAssembly.compileStreaming(fetch(d[0],o)).then(postMessage,x=>postMessage(0))}"])));
        } catch {
          return failed();
        }
        w.onmessage = (e) => {
          w.terminate();
          e.data ? resolve(e.data) : reject();
        };
        w.onerror = (e) => { e.preventDefault(); w.terminate(); failed(); };
        w.postMessage([wasmURL, abs(cfg.assets.wasmExec)]);
      }).catch(() => decided ? new Promise(() => {}) :
        WebAssembly.compileStreaming(fetch(wasmURL, { credentials: "omit", signal: abort.signal, priority: "high" })));
      // A module that cannot be had is reported at once.
      mine.catch(broken);
    }

    // showBanner shows the server's banner, once.
    function showBanner() {
      if (host) return;
      host = document.createElement("div");
      host.setAttribute("data-portal-consent", p.id);
      shadow = host.attachShadow({ mode: "open" });
      // Styles through CSSOM: no extra request, and no 'unsafe-inline' needed.
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(cfg.css);
      shadow.adoptedStyleSheets = [sheet];
      shadow.innerHTML = cfg.banner;
      shadow.firstElementChild.setAttribute("data-server", "");
      var note = shadow.getElementById("pc-gpc");
      if (ctx.gpc && note) note.removeAttribute("hidden");
      listen(shadow);
      (document.body || document.documentElement).appendChild(host);
      // Where the visual viewport is not the layout viewport, the banner
      // follows the former (read after the page's layout, not forcing it).
      var place = () => {
        if (!shadow) return; // gone since (a frame scheduled before)
        var off = zoomed(), el = shadow.querySelector(".pc-banner");
        pin(host, {
          "--pc-host-left": off ? vv.offsetLeft + "px" : "0",
          "--pc-host-width": off ? vv.width + "px" : "100%",
          "--pc-host-top": off ? vv.offsetTop + vv.height + "px" : "auto",
          "--pc-host-bottom": off ? "auto" : "0"
        });
        // Zoomed in, the banner may be higher than the visual viewport: it
        // scrolls (banner.css) within that height.
        if (el) el.style.maxHeight = off ? vv.height + "px" : "";
      };
      requestAnimationFrame(place);
      unplace = onViewport(place);
      // One anonymous impression (portal, revision, language): the console's
      // share of banners that led to a decision. A beacon from the page sends
      // it once the main thread is idle (or at once on a choice made before).
      impression = [consentHost + "portals/" + p.id + "/impressions", JSON.stringify({ revision: p.revision, lang: texts.lang })];
      (window.requestIdleCallback || setTimeout)(beacon);
    }

    // dropBanner removes the server's banner.
    function dropBanner() {
      if (!host) return;
      if (unplace) unplace();
      host.remove();
      host = shadow = null;
    }

    // makeFrame adds the consent frame, hidden: an about:blank iframe, whose
    // document is the portal's origin's and is ready at once. go-app mounts
    // in place of its body's first element: an empty root.
    function makeFrame() {
      if (frame) return;
      frame = document.createElement("iframe");
      // Inline !important beats any portal rule: reset everything, then place.
      pin(frame, {
        all: "initial", position: "fixed", left: "0", bottom: "0", width: "100%", height: "0",
        border: "0", "z-index": "2147483647", display: "block", visibility: "hidden"
      });
      frame.setAttribute("data-portal-consent", p.id);
      (document.body || document.documentElement).appendChild(frame);
      win = frame.contentWindow;
      doc = win.document;
      frame.title = texts.bannerTitle || "Cookie consent";
      doc.title = frame.title;
      doc.documentElement.lang = texts.lang || "en";
      conf = win.portalConsentConfig = { policy: JSON.stringify(p), start: "", gpc: ctx.gpc };
      win.portalConsentHost = {
        // The app calls it once per choice stored (wasm/main_js.go).
        changed: stored,
        reload: () => { location.reload(); },
        // The app's first render waits for this (wasm/main_js.go): it may
        // have started before a press that is not yet released.
        whenReleased: () => Promise.resolve(released())
      };
      var sheet = new win.CSSStyleSheet();
      sheet.replaceSync(cfg.css);
      doc.adoptedStyleSheets = [sheet];
      isolate(win);
      doc.body.innerHTML = '<div class="pc-root" data-pc-mode="hidden"></div>';
      listen(doc);
      stop = watch(frame, win, () => { var o = opener; opener = null; return o; }, takeover);
    }

    // takeover is called once, at the app's first render: the server's
    // banner goes, and focus on it moves into the frame, to the app's element
    // with the same id.
    function takeover() {
      var f = shadow && shadow.activeElement, el = f && f.id && doc.getElementById(f.id);
      dropBanner();
      if (f) {
        frame.focus();
        if (el) el.focus();
      }
    }

    // keep stores the choice c made on the server's banner or dialog
    // (prefs.js) before the app runs, made with method; refusal (no optional
    // category accepted) keeps it for the policy's refusal lifetime, when set.
    function keep(c, method, refusal) {
      var value = encode(c);
      document.cookie = setCookie(value, refusal && p.refusalLifetimeDays || p.lifetimeDays || 182, Date.now(), location.protocol === "https:",
        cookieDomainFor(p.cookieDomain || "", location.hostname));
      if (document.cookie.indexOf(NAME + "=" + value) >= 0) {
        decided = true;
        abort.abort();
        stopWorker();
        beacon(); // the banner was shown, whether or not the worker said it
        close();
        stored(value, method);
      }
    }

    // Clicks on the server's banner, before the app replaces it: Accept and
    // Reject store the choice here, Customize and the policy start the app
    // and show the server's dialog meanwhile (prefs.js).
    // Intent starts the app too, but not on a metered network: the pointer
    // entering the banner (a mouse's, or a touch) or focus moving into it,
    // elsewhere than on Accept all and Reject all, which never need it: a
    // visitor who goes straight to them downloads no wasm.
    function listen(root) {
      root.addEventListener("click", (e) => {
        var t = e.target.closest && e.target.closest("[data-server] button");
        if (!t) return;
        if (t.id === "pc-accept" || t.id === "pc-reject") {
          keep(choose(p, t.id === "pc-accept", nowSec(), ctx.id()), t.id.slice(3) + "-all", t.id === "pc-reject"); // accept-all, reject-all
        } else if (t.id === "pc-customize" || t.id === "pc-policy") {
          open(t.id === "pc-customize" ? "preferences" : "policy");
          t.setAttribute("aria-busy", "true");
        }
      }, true);
      if (root === shadow && !slow) {
        var intent = (e) => { if (!/^pc-(accept|reject)$/.test(e.target.id)) run(); };
        root.addEventListener("pointerover", intent);
        root.addEventListener("focusin", intent);
      }
      // The app replaces the banner's buttons when it starts: not between a
      // press and its release, or that click would be lost. released
      // resolves to v once no pointer is pressed on the banner (after the
      // click's events); the app starts only then, and its first render
      // waits for it again. The Space key clicks on its release too.
      // The wait cannot close every gap: the app may have checked just
      // before a press and render between the press and its release; the
      // button pressed is then gone and the browser clicks nothing. held is
      // the server's button a pointer press started on; when it is gone at
      // the release and no click reached it, the app's button with its id is
      // clicked instead.
      root.addEventListener("click", (e) => {
        var b = e.target.closest && e.target.closest("button");
        if (b && held && b.id === held.id) clicked = true;
      }, true);
      root.addEventListener("pointerdown", down, true);
      root.addEventListener("keydown", down, true);
      root.addEventListener("pointerup", up, true);
      root.addEventListener("pointercancel", up, true);
      root.addEventListener("keyup", up, true);
    }
    var pressed = 0, waiters = [], held = null, clicked = false;
    function down(e) {
      if (e.type === "pointerdown" || e.key === " ") pressed++;
      if (e.type === "pointerdown") {
        held = e.target.closest && e.target.closest("[data-server] button");
        clicked = false;
      }
    }
    function up(e) {
      var w = waiters, h = e.type === "pointerup" ? held : null;
      pressed = 0;
      waiters = [];
      setTimeout(() => {
        held = null;
        w.forEach((f) => f());
        var on = shadow || doc, now = h && !h.isConnected && !clicked && on && on.getElementById(h.id);
        if (now) now.click();
      });
    }
    function released(v) {
      return pressed ? new Promise((resolve) => { waiters.push(() => resolve(v)); }) : v;
    }

    // close removes everything shown: the choice is made.
    function close() {
      dropBanner();
      if (stop) stop();
      if (frame) frame.remove();
      ctx.reset();
    }

    // open shows a view: the server's banner at once for "", a dialog once the
    // app runs (started now) for the others.
    function open(view, from) {
      if (view == null) return void (slow || prepare());
      if (!view) return started ? undefined : showBanner();
      makeFrame();
      opener = from && from !== frame && from !== document.body && from.focus ? from : null;
      if (win.portalConsentRunning) return win.portalConsentShow(view);
      conf.start = view;
      if (host) {
        host.style.setProperty("cursor", "progress", "important");
        // The server's dialogs (dialogs.json) shown by prefs.js at once, in
        // the banner's shadow root, until the app takes them over.
        prefs().then((r) => { if (shadow) r[0]({ shadow, host, conf, keep, ctx }, r[1], view); }).catch(() => {});
      }
      run();
    }

    // run starts the app once its module and runtime are ready. The app reads
    // portalConsentConfig, takes the banner over, and (app.Root.OnStart) clears
    // go-app's window handlers, keeps focus and sets portalConsentRunning.
    function run() {
      if (started) return;
      started = true;
      makeFrame();
      prepare();
      // The runtime, in the frame's realm (from the HTTP cache, fetched
      // with the module), while the module is on its way.
      var runtime = new Promise((resolve, reject) => {
        var s = doc.createElement("script");
        s.src = abs(cfg.assets.wasmExec);
        s.crossOrigin = "anonymous";
        s.onload = resolve;
        s.onerror = () => { reject(new Error("the consent app runtime did not load; check the page's Content-Security-Policy")); };
        doc.head.appendChild(s);
      });
      Promise.all([module, runtime]).then((r) => {
        var mod = r[0];
        if (decided) return;
        var go = new win.Go();
        // Instantiate in the frame's realm: Go.run checks instanceof there.
        return win.WebAssembly.instantiate(mod, go.importObject).then(released).then((inst) => {
          if (decided) return;
          return go.run(inst).then(() => {
            var why = win.portalConsentExitReason;
            throw new Error("the consent app stopped" + (why ? ": " + why : " unexpectedly"));
          });
        });
      }).catch(broken);
    }

    function broken(err) {
      if (decided) return;
      var m = String(err && err.message ? err.message : err);
      if (!/consent app (stopped|runtime)/.test(m)) {
        m = "the consent app could not start (" + m + ")" +
          (/unsafe-eval|Content.Security/i.test(m) ? "; a Content-Security-Policy must allow 'wasm-unsafe-eval'" : "");
      }
      close();
      ctx.fail(m);
    }
    return { open: open };
  };
  // The codec, for embeds.js: a placeholder's accept button stores its choice
  // as the banner does.
  window.__portalConsentUI.codec = codec;

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
  // closes: to the element opener() returns (the one the dialog was opened
  // with), else to the one focused when the dialog showed. first is called
  // once, at the app's first render (when .pc-root is no longer the one the
  // frame started with). It returns a function that stops watching.
  function watch(frame, win, opener, first) {
    var doc = win.document, mode = "", back = null, banner = null, start = doc.querySelector(".pc-root");
    var sizer = new win.ResizeObserver(fit);
    var set = (k, v) => { frame.style.setProperty(k, v, "important"); };

    // place follows the visual viewport where it is not the layout viewport:
    // the frame then takes its offset and width (and, for a dialog, its
    // height). It returns whether it does.
    function place() {
      var off = zoomed();
      set("left", off ? vv.offsetLeft + "px" : "0");
      set("width", off ? vv.width + "px" : "100%");
      if (mode === "modal") { set("top", off ? vv.offsetTop + "px" : "0"); set("height", off ? vv.height + "px" : "100%"); }
      return off;
    }

    // fit sizes the frame to the banner, at the bottom of the visual
    // viewport. A box (a theme's corner position)
    // narrower than the viewport clips the frame to itself (clip-path also
    // clips hit-testing), so that the page beside it stays usable.
    function fit() {
      if (mode !== "banner") return;
      var off = place(), el = doc.querySelector(".pc-banner");
      // Zoomed in, the banner may be higher than the visual viewport: it
      // scrolls (banner.css) within that height.
      if (el) el.style.maxHeight = off ? vv.height + "px" : "";
      void frame.offsetWidth; // the portal's layout first: the frame's viewport follows it
      var r = el ? el.getBoundingClientRect() : { height: 0, width: 0 };
      set("height", Math.ceil(r.height) + "px");
      set("top", off ? vv.offsetTop + vv.height - Math.ceil(r.height) + "px" : "auto");
      set("clip-path", r.width && r.width < win.innerWidth - 1 ? "inset(0 " + (win.innerWidth - r.right) + "px 0 " + r.left + "px)" : "none");
    }
    var unlisten = onViewport(() => { mode === "modal" ? place() : fit(); });

    function update() {
      var root = doc.querySelector(".pc-root");
      if (first && root !== start) {
        first();
        first = null;
      }
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
        place(); set("clip-path", "none"); set("visibility", "visible");
        // The element to return to is the opener, taken when the dialog was
        // asked for: by the time this callback runs, the app's own deferred
        // focus may already have moved focus into the frame, so the portal's
        // activeElement is the frame, not the link. Focusing the frame resets
        // the focus inside it: only when focus is still on the portal, and
        // then the dialog takes focus again.
        var from = opener();
        if (document.activeElement !== frame) {
          back = from || document.activeElement;
          frame.focus();
        } else {
          back = from;
        }
        var dlg = doc.querySelector("[aria-modal]");
        if (dlg && !dlg.contains(doc.activeElement)) dlg.focus();
      } else if (mode === "banner") {
        set("visibility", "visible"); fit();
      } else {
        set("visibility", "hidden"); set("height", "0"); set("top", "auto");
      }
      if (prev === "modal" && mode === "hidden") {
        if (back && back.focus) back.focus();
        // Never leave focus on the hidden frame.
        if (document.activeElement === frame) frame.blur();
      }
      if (mode !== "modal") back = null;
    }

    var mo = new win.MutationObserver(update);
    mo.observe(doc.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-pc-mode"] });
    update();
    return () => { mo.disconnect(); sizer.disconnect(); unlisten(); };
  }
})();
