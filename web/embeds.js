/*! Portal Consent embeds */
// Loaded by embed.js (never by a portal directly) on a page with embedded
// content waiting for consent: <iframe data-category="…" data-src="…"
// title="…"> (optional data-provider="YouTube"). This script loads those of
// accepted categories (src from an http(s) data-src) and shows, in place of
// each other one and at its size, a placeholder in
// a shadow root (out of reach of the portal's CSS), themed like the banner
// and in its language: which provider, that it may set cookies and of which
// category, a Load button (this embed, this once, nothing stored) and a
// button that accepts the category (stored like any choice, with the
// visitor's consent id: every embed of it then loads).
(() => {
  "use strict";
  var NAME = "cookies_preferences";
  // Providers of the presets (policy/trackers.go), by host.
  var PROVIDERS = [
    [/(^|\.)youtube(-nocookie)?\.com$/, "YouTube"], [/(^|\.)vimeo\.com$/, "Vimeo"],
    [/(^|\.)dailymotion\.com$/, "Dailymotion"], [/(^|\.)umap\.openstreetmap\.fr$/, "uMap"],
    [/(^|\.)openstreetmap\.org$/, "OpenStreetMap"], [/(^|\.)mapbox\.com$/, "Mapbox"],
    [/(^|\.)(datawrapper\.de|dwcdn\.net)$/, "Datawrapper"]
  ];
  var CSS = ":host{font:14px/1.45 var(--pc-font);color:var(--pc-fg)}" +
    ".pc-embed{height:100%;overflow:auto;padding:16px;display:flex;flex-direction:column;justify-content:center;gap:8px;" +
    "background:var(--pc-bg);border:1px solid var(--pc-border);border-radius:var(--pc-radius)}" +
    ".pc-embed p{margin:0}.pc-title{font-weight:700;font-size:16px}.pc-text{color:var(--pc-muted)}";
  var held = new Map(); // iframe -> its placeholder
  var sheet;

  // provider names who serves an embed: data-provider, else a preset's host,
  // else the host itself.
  function provider(f) {
    var host = "";
    try { host = new URL(f.getAttribute("data-src"), location.href).hostname; } catch (e) { /* no host */ }
    var p = PROVIDERS.find((p) => p[0].test(host));
    return f.getAttribute("data-provider") || (p ? p[1] : host);
  }

  // src loads iframe f from its data-src, resolved against the page, when it
  // is an http(s) URL; any other (javascript:, data:…) never loads: the
  // iframe stays empty and one console error says why (fail).
  function src(f, fail) {
    var a = document.createElement("a");
    a.href = f.getAttribute("data-src");
    f.removeAttribute("data-src");
    /^https?:$/.test(a.protocol) ? f.src = a.href : fail("data-src not http(s): " + a.protocol);
  }

  // embed.js calls this whenever the choice or the embeds may have changed,
  // with {cfg, ui() -> ui.js, changed(value), id() -> the consent id to keep,
  // fail(msg), accepts(category)}: the embeds of accepted categories load,
  // placeholders of the embeds that loaded (or left the page) go, new
  // waiting embeds get one.
  window.__portalConsentEmbeds = (ctx) => {
    document.querySelectorAll("iframe[data-category][data-src]").forEach((f) => {
      if (ctx.accepts(f.getAttribute("data-category"))) src(f, ctx.fail);
    });
    if (!sheet) {
      sheet = new CSSStyleSheet();
      // The banner's stylesheet (its theme's custom properties and buttons),
      // with :root read as the shadow root's host.
      sheet.replaceSync(ctx.cfg.css.replace(/:root/g, ":host") + CSS);
    }
    held.forEach((h, f) => { if (!f.isConnected || !f.hasAttribute("data-src")) release(f); });
    document.querySelectorAll("iframe[data-category][data-src]").forEach((f) => { if (!held.has(f)) hold(f, ctx); });
  };

  // release removes the placeholder of f and shows f again.
  function release(f) {
    var h = held.get(f);
    held.delete(f);
    h.remove();
    f.style.setProperty("display", h.display[0], h.display[1]);
  }

  // hold puts a placeholder in place of f, at its size: a width in % as
  // written, else the size it is laid out at, else its width and height
  // attributes (300×150, an iframe's default, without them).
  function hold(f, ctx) {
    var p = ctx.cfg.policy, t = p.texts.embed, id = f.getAttribute("data-category");
    var cat = p.categories.find((c) => c.id === id);
    var who = provider(f), r = f.getBoundingClientRect();
    var fill = (s) => s.replace(/\{provider\}/g, who).replace(/\{category\}/g, cat ? cat.name : id);
    var dim = (a, v, d) => /%$/.test(a = f.getAttribute(a) || "") ? a : (v || parseFloat(a) || d) + "px";
    var h = document.createElement("portal-consent-embed");
    var css = { all: "initial", display: "inline-block", "vertical-align": "top", "box-sizing": "border-box",
      "max-width": "100%", width: dim("width", r.width, 300), height: dim("height", r.height, 150) };
    for (var k in css) h.style.setProperty(k, css[k], "important");
    h.display = [f.style.getPropertyValue("display"), f.style.getPropertyPriority("display")];
    var root = h.attachShadow({ mode: "open" });
    root.adoptedStyleSheets = [sheet];
    // In the policy's language and direction (config.json's dir: "rtl" for
    // Arabic, Hebrew…), whatever the page's.
    root.innerHTML = '<div class="pc-embed" role="group" aria-labelledby="t n" dir="' + (ctx.cfg.dir || "ltr") + '"><p class="pc-title" id="t"></p>' +
      '<p id="n"></p><p class="pc-text"></p><div class="pc-actions">' +
      '<button type="button" class="pc-btn pc-secondary"></button><button type="button" class="pc-btn pc-secondary"></button></div></div>';
    var $ = (s) => root.querySelector(s), b = root.querySelectorAll("button");
    $(".pc-embed").lang = p.texts.lang;
    $("#t").textContent = fill(t.title);
    $("#n").textContent = f.title;
    $(".pc-text").textContent = fill(t.text);
    b[0].textContent = t.load;
    b[1].textContent = fill(t.accept);
    if (!cat || cat.required) b[1].remove(); // an unknown category cannot be accepted
    // Load: this embed only, this once; nothing is stored.
    b[0].onclick = () => {
      src(f, ctx.fail); // http(s) only
      release(f);
      f.focus();
    };
    // Accept: a choice that accepts the category besides the current ones,
    // written like the banner's; embed.js then loads all of its embeds.
    b[1].onclick = () => {
      ctx.ui().then((ui) => {
        var k = ui.codec, now = Date.now(), c = k.choose(p, false, Math.floor(now / 1000), ctx.id());
        var cats = window.PortalConsent.get().categories;
        c.choices.forEach((ch) => { ch[1] = ch[1] || cats[ch[0]] || ch[0] === id; });
        var value = k.encode(c);
        document.cookie = k.setCookie(value, p.lifetimeDays || 182, now, location.protocol === "https:",
          k.cookieDomainFor(p.cookieDomain || "", location.hostname));
        if (document.cookie.indexOf(NAME + "=" + value) >= 0) {
          ctx.changed(value);
          k.send(p, value, "custom");
          f.focus();
        }
      });
    };
    f.style.setProperty("display", "none", "important");
    f.parentNode.insertBefore(h, f);
    held.set(f, h);
  }
})();
