/*! Portal Consent loader. One tag per page:
 *  <script src="https://CONSENT_HOST/embed.js" data-portal="ID" async></script>
 * It fetches the portal's policy from the consent host and runs the Go
 * consent app (WebAssembly) inside a same-origin srcdoc frame, so the portal's
 * links, window handlers, history, storage, DOM and styles are untouched.
 * On any failure it logs one console error and the page goes on with no
 * optional category enabled. */
(function () {
  "use strict";
  var PREFIX = "PortalConsent: ";
  var script = document.currentScript;
  var reported = false;

  // fail logs one clear console error (only the first) and removes the frame.
  function fail(msg, frame) {
    if (frame && frame.parentNode) frame.parentNode.removeChild(frame);
    if (reported) return;
    reported = true;
    console.error(PREFIX + msg);
  }

  var KEY = "__portalConsentLoaded";
  if (window[KEY]) return; // runs once per page
  try {
    Object.defineProperty(window, KEY, { value: true });
  } catch (e) {
    return;
  }
  if (!script || !script.src) {
    fail("embed.js must be included with <script src=…/embed.js data-portal=…>");
    return;
  }
  var portal = script.getAttribute("data-portal") || "";
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(portal)) {
    fail('data-portal="' + portal.slice(0, 40) + '" is missing or not a portal id');
    return;
  }
  if (typeof WebAssembly !== "object" || !window.fetch || !window.Promise) {
    fail("this browser cannot run the consent app (WebAssembly, fetch)");
    return;
  }
  var base = new URL(".", script.src).href;

  fetch(base + "portals/" + portal + "/config.json", { credentials: "omit" })
    .then(function (res) {
      if (res.status === 404) throw new Error('unknown portal "' + portal + '"');
      if (!res.ok) throw new Error("consent host answered " + res.status + " for the portal configuration");
      return res.json();
    })
    .then(start)
    .catch(function (err) {
      fail(err && err.message ? err.message : String(err));
    });

  // compile fetches and compiles the wasm module in this window.
  function compile(url) {
    var res = fetch(url, { credentials: "omit" });
    if (WebAssembly.compileStreaming) {
      return WebAssembly.compileStreaming(res).catch(function () {
        return fetch(url, { credentials: "omit" }).then(compileBytes);
      });
    }
    return res.then(compileBytes);
  }

  function compileBytes(res) {
    if (!res.ok) throw new Error("the consent app (" + res.url + ") answered " + res.status);
    return res.arrayBuffer().then(function (b) {
      return WebAssembly.compile(b);
    });
  }

  function abs(path) {
    return new URL(path, base).href;
  }

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }

  function start(cfg) {
    if (!cfg || !cfg.policy || !cfg.assets) throw new Error("malformed portal configuration");
    var texts = cfg.policy.texts || {};
    var lang = texts.lang || "en";
    var moduleReady = compile(abs(cfg.assets.wasm));
    moduleReady.catch(function () {}); // reported below, once

    var frame = document.createElement("iframe");
    frame.title = texts.bannerTitle || "Cookie consent";
    var css = {
      position: "fixed", left: "0", right: "0", bottom: "0", top: "auto",
      width: "100%", height: "0", border: "0", margin: "0", padding: "0",
      "max-width": "none", "max-height": "none", "min-height": "0", "min-width": "0",
      "z-index": "2147483647", display: "block", visibility: "hidden",
      background: "transparent", "color-scheme": "normal", opacity: "1",
      transform: "none", "pointer-events": "auto"
    };
    for (var k in css) frame.style.setProperty(k, css[k], "important");
    frame.setAttribute("data-portal-consent", portal);
    frame.srcdoc =
      '<!doctype html><html lang="' + esc(lang) + '"><head><meta charset="utf-8">' +
      "<title>" + esc(frame.title) + "</title>" +
      '<link rel="stylesheet" href="' + esc(abs(cfg.assets.css)) + '"></head>' +
      '<body><div></div><script src="' + esc(abs(cfg.assets.wasmExec)) + '"></' + "script></body></html>";

    frame.addEventListener("load", function () {
      var win = frame.contentWindow;
      if (!win || !win.Go) {
        fail("the consent app runtime (wasm_exec.js) did not load; check the page's Content-Security-Policy", frame);
        return;
      }
      isolate(win);
      win.portalConsentConfig = { policy: JSON.stringify(cfg.policy), start: "" };
      moduleReady
        .then(function (mod) {
          var go = new win.Go();
          // Instantiate in the frame's realm: Go.run checks instanceof there.
          return win.WebAssembly.instantiate(mod, go.importObject).then(function (inst) {
            var done = go.run(inst);
            // go-app intercepts link clicks and history in its window: not
            // ours to keep, the frame has no links or history of its own.
            win.onclick = null;
            win.onpopstate = null;
            win.onresize = null;
            watch(frame, win);
            return done;
          });
        })
        .then(
          function () {
            var why = win.portalConsentExitReason;
            fail("the consent app stopped" + (why ? ": " + why : " unexpectedly"), frame);
          },
          function (err) {
            fail(
              "the consent app could not start (" + (err && err.message ? err.message : err) + ")" +
                (/unsafe-eval|Content.Security/i.test(String(err)) ? "; a Content-Security-Policy must allow 'wasm-unsafe-eval'" : ""),
              frame
            );
          }
        );
    });
    (document.body || document.documentElement).appendChild(frame);
  }

  // isolate gives the frame an in-memory localStorage, so go-app's start-up
  // clean-up never touches the portal's storage (same origin).
  function isolate(win) {
    var data = {};
    var store = {
      get length() { return Object.keys(data).length; },
      key: function (i) { var k = Object.keys(data); return i < k.length ? k[i] : null; },
      getItem: function (k) { return Object.prototype.hasOwnProperty.call(data, k) ? data[k] : null; },
      setItem: function (k, v) { data[k] = String(v); },
      removeItem: function (k) { delete data[k]; },
      clear: function () { data = {}; }
    };
    Object.defineProperty(win, "localStorage", { value: store, configurable: true });
    Object.defineProperty(win, "sessionStorage", { value: store, configurable: true });
  }

  // watch sizes the frame to what the app shows: nothing, the banner at the
  // bottom, or the full viewport while a dialog is open; it moves focus into
  // the frame when a dialog opens and back to the portal when it closes.
  function watch(frame, win) {
    var doc = win.document;
    var mode = "";
    var returnFocus = null;
    var banner = null;
    var sizer = new win.ResizeObserver(fit);

    function set(k, v) { frame.style.setProperty(k, v, "important"); }

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
      if (next === mode) { fit(); return; }
      var prev = mode;
      mode = next;
      if (mode === "modal") {
        if (document.activeElement !== frame) returnFocus = document.activeElement;
        set("top", "0"); set("height", "100%"); set("visibility", "visible");
        frame.focus();
      } else if (mode === "banner") {
        set("top", "auto"); set("visibility", "visible"); fit();
      } else {
        set("visibility", "hidden"); set("height", "0"); set("top", "auto");
      }
      if (prev === "modal" && mode === "hidden" && returnFocus && returnFocus.focus) {
        returnFocus.focus();
      }
      if (mode !== "modal") returnFocus = null;
    }

    new win.MutationObserver(update).observe(doc.body, {
      subtree: true, childList: true, attributes: true, attributeFilter: ["data-pc-mode"]
    });
    update();
  }
})();
