/*! Portal Consent UI */
// Loaded by embed.js (never by a portal directly) when the banner, the
// preferences or the policy must show. It shows the server-rendered banner at
// once in the consent frame (a same-origin about:blank iframe: the portal's
// links, window handlers, history, storage, DOM and styles stay untouched),
// fetches and compiles the Go consent app (WebAssembly) off the main thread,
// and starts it when the visitor shows intent; the app then takes the banner
// over seamlessly. Accept and Reject clicked before the app runs are stored
// here.
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
  // true, every other one accepted.
  function choose(p, all, now) {
    var b = crypto.getRandomValues(new Uint8Array(16));
    var id = btoa(String.fromCharCode.apply(null, b)).replace(/\+/g, "-").replace(/\//g, "_").slice(0, 22);
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
  // that no cookie row of p declares (match is the loader's matchName; without
  // it, every name): valid
  // names of at most 64 bytes, not cookies_preferences, once each, at most 32
  // (policy.Policy.Undeclared).
  function undeclared(p, line, match) {
    return line.split(";").map((s) => (/^\s*([!#-'*+.0-9A-Z^-z|~-]{1,64})\s*=/.exec(s) || [])[1]).filter((n, i, all) =>
      n && n !== NAME && all.indexOf(n) === i && !(match && p.cookies.some((row) => row.names.some((pat) => match(pat, n))))).slice(0, 32);
  }

  // receipt returns the body of the receipt of value, stored with method
  // ("accept-all", "reject-all" or "custom") on page (origin and path), when
  // the page's cookies were line.
  function receipt(p, value, method, line, page, match) {
    return JSON.stringify({ value: value, method: method, lang: p.texts.lang, page: page, undeclared: undeclared(p, line, match) });
  }

  var codec = { encode: encode, choose: choose, setCookie: setCookie, cookieDomainFor: cookieDomainFor, undeclared: undeclared, receipt: receipt };
  if (typeof document === "undefined") {
    if (typeof module === "object") module.exports = codec;
    return;
  }

  // The consent host: ui.js is served from its assets/.
  var host = new URL("..", document.currentScript.src).href;

  // send sends the receipt of a value just stored, with method, to the
  // consent host: the one place receipts are sent (the app's choices, the
  // server banner's, an embed placeholder's). A beacon, never waited for,
  // whose failure stays here; fetch is for a beacon the browser refuses
  // (sendBeacon returns false). Without match (an embed's placeholder, which
  // has not the loader's matchName) every name but cookies_preferences is
  // reported: the consent host drops the names the policy declares.
  function send(p, value, method, match) {
    try {
      var url = host + "portals/" + p.id + "/consents";
      var body = receipt(p, value, method, document.cookie, location.origin + location.pathname, match);
      navigator.sendBeacon(url, body) ||
        fetch(url, { method: "POST", body: body, keepalive: true, credentials: "omit", mode: "no-cors" }).catch(() => {});
    } catch {}
  }
  codec.send = send;

  var nowSec = () => Math.floor(Date.now() / 1000);

  // The loader calls this with its context: {cfg, base, gpc, fail(msg, frame),
  // changed(value) -> reload advised, match(pattern, name), takeFrame(),
  // reset()}. It returns {open(view, from)}: view "" shows the banner,
  // "preferences" or "policy" a dialog; from is the portal's element that
  // opened it (focus returns there).
  window.__portalConsentUI = (ctx) => {
    var cfg = ctx.cfg, p = cfg.policy, texts = p.texts || {};
    var abs = (u) => new URL(u, ctx.base).href;
    var frame = ctx.takeFrame(), win = frame.contentWindow, doc = win.document;
    var decided = false, started = false;
    var abort = new AbortController();
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
    frame.title = texts.bannerTitle || "Cookie consent";
    doc.title = frame.title;
    doc.documentElement.lang = texts.lang || "en";
    var conf = win.portalConsentConfig = { policy: JSON.stringify(p), start: "", gpc: ctx.gpc };
    // stored makes a value just stored take effect (the loader's changed),
    // then sends its receipt. It returns changed's answer.
    var stored = (value, method) => {
      var reload = ctx.changed(value);
      send(p, value, method, ctx.match);
      return reload;
    };
    win.portalConsentHost = {
      // The app calls it once per choice stored (wasm/main_js.go).
      changed: stored,
      reload: () => { location.reload(); },
      // The app's first render waits for this (wasm/main_js.go): it may have
      // started before a press that is not yet released.
      whenReleased: () => Promise.resolve(released())
    };
    // Styles through CSSOM: no extra request, and no 'unsafe-inline' needed.
    var sheet = new win.CSSStyleSheet();
    sheet.replaceSync(cfg.css);
    doc.adoptedStyleSheets = [sheet];
    isolate(win);
    // opener is the portal's element the next dialog was opened with; watch
    // takes it when the dialog shows.
    var opener = null;
    var stop = watch(frame, win, () => { var o = opener; opener = null; return o; });

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
    doc.addEventListener("click", (e) => {
      var t = e.target.closest && e.target.closest("[data-server] button");
      if (!t) return;
      if (t.id === "pc-accept" || t.id === "pc-reject") {
        var value = encode(choose(p, t.id === "pc-accept", nowSec()));
        document.cookie = setCookie(value, p.lifetimeDays || 182, Date.now(), location.protocol === "https:",
          cookieDomainFor(p.cookieDomain || "", location.hostname));
        if (document.cookie.indexOf(NAME + "=" + value) >= 0) {
          decided = true;
          abort.abort();
          if (worker) worker.terminate();
          stop();
          frame.parentNode.removeChild(frame);
          ctx.reset();
          stored(value, t.id.slice(3) + "-all"); // accept-all, reject-all
        }
      } else if (t.id === "pc-customize" || t.id === "pc-policy") {
        open(t.id === "pc-customize" ? "preferences" : "policy");
        t.setAttribute("aria-busy", "true");
      }
    }, true);
    doc.addEventListener("pointerover", run);
    doc.addEventListener("focusin", run);
    // The app replaces the banner's buttons when it starts: not between a
    // press and its release, or that click would be lost. released resolves
    // to v once no pointer is pressed in the frame (after the click's events);
    // the app starts only then, and its first render waits for it again.
    // The Space key clicks on its release too.
    // The wait cannot close every gap: the app may have checked just before
    // a press and render between the press and its release; the button
    // pressed is then gone and the browser clicks nothing. held is the
    // server's button a pointer press started on; when it is gone at the
    // release and no click reached it, the app's button with its id is
    // clicked instead.
    var pressed = 0, waiters = [], held = null, clicked = false;
    var down = (e) => {
      if (e.type === "pointerdown" || e.key === " ") pressed++;
      if (e.type === "pointerdown") {
        held = e.target.closest && e.target.closest("[data-server] button");
        clicked = false;
      }
    };
    var up = (e) => {
      var w = waiters, h = e.type === "pointerup" ? held : null;
      pressed = 0;
      waiters = [];
      setTimeout(() => {
        held = null;
        w.forEach((f) => f());
        var now = h && !h.isConnected && !clicked && doc.getElementById(h.id);
        if (now) now.click();
      });
    };
    doc.addEventListener("click", (e) => {
      var b = e.target.closest && e.target.closest("button");
      if (b && held && b.id === held.id) clicked = true;
    }, true);
    doc.addEventListener("pointerdown", down, true);
    doc.addEventListener("keydown", down, true);
    doc.addEventListener("pointerup", up, true);
    doc.addEventListener("pointercancel", up, true);
    doc.addEventListener("keyup", up, true);
    function released(v) {
      return pressed ? new Promise((resolve) => { waiters.push(() => resolve(v)); }) : v;
    }

    // open shows a view: the server's banner at once for "", a dialog once the
    // app runs (started now) for the others.
    function open(view, from) {
      if (view) opener = from && from !== frame && from !== document.body && from.focus ? from : null;
      // go-app mounts in place of the body's first element: a returning
      // visitor opening a dialog has no server banner there, so an empty root.
      if (view && !doc.body.firstElementChild) doc.body.innerHTML = '<div class="pc-root" data-pc-mode="hidden"></div>';
      if (!view) {
        if (!doc.body.firstElementChild) {
          doc.body.innerHTML = cfg.banner;
          doc.body.firstElementChild.setAttribute("data-server", "");
          var note = doc.getElementById("pc-gpc");
          if (ctx.gpc && note) note.removeAttribute("hidden");
          // One anonymous impression (portal, revision, language): the
          // console's share of banners that led to a decision. Sent once
          // the main thread is idle: at the banner's first paint, with the
          // wasm loading, the call costs milliseconds. Its failure stays here.
          (win.requestIdleCallback || setTimeout)(() => { try { navigator.sendBeacon(host + "portals/" + p.id + "/impressions", JSON.stringify({ revision: p.revision, lang: texts.lang })); } catch {} });
        }
        return;
      }
      if (win.portalConsentRunning) return win.portalConsentShow(view);
      conf.start = view;
      doc.documentElement.style.cursor = "progress";
      run();
    }

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
        return win.WebAssembly.instantiate(r[0], go.importObject).then(released).then((inst) => {
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
      if (decided) return;
      stop();
      ctx.reset();
      var m = String(err && err.message ? err.message : err);
      if (!/consent app (stopped|runtime)/.test(m)) {
        m = "the consent app could not start (" + m + ")" +
          (/unsafe-eval|Content.Security/i.test(m) ? "; a Content-Security-Policy must allow 'wasm-unsafe-eval'" : "");
      }
      ctx.fail(m, frame);
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
  // with), else to the one focused when the dialog showed. It returns a
  // function that stops watching.
  function watch(frame, win, opener) {
    var doc = win.document, mode = "", back = null, banner = null;
    var sizer = new win.ResizeObserver(fit);
    var set = (k, v) => { frame.style.setProperty(k, v, "important"); };

    // place follows the visual viewport where it is not the layout viewport
    // (position: fixed follows the latter): on a phone, a page wider than the
    // screen widens the layout viewport, and pinch-zoom shrinks the visual
    // one. The frame then takes the visual viewport's offset and width (and,
    // for a dialog, its height). It returns whether it does. The layout
    // viewport is innerWidth × innerHeight, scrollbars included: a difference
    // under 30px is theirs.
    var vv = window.visualViewport;
    function place() {
      var off = vv && (vv.scale > 1.001 || innerWidth - vv.width > 30 || innerHeight - vv.height > 30);
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
    var reflow = () => { mode === "modal" ? place() : fit(); };
    // The visual viewport's resize also follows the window's.
    var listen = (on) => { ["resize", "scroll"].forEach((e) => { (vv || window)[on + "EventListener"](e, reflow); }); };
    listen("add");

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
    return () => { mo.disconnect(); sizer.disconnect(); listen("remove"); };
  }
})();
