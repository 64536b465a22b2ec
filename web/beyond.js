/*! Portal Consent: beyond cookies */
// Loaded by embed.js (never by a portal directly), from the path and
// integrity value config.json names (assets.beyond), only when needed:
// - clear: on a change (a choice just made), and on a page view where
//   cookies of refused categories are back (embed.js's toClear): cookies,
//   and the declared localStorage, sessionStorage items and IndexedDB
//   databases (policy row "type") of refused categories go from the
//   portal's page;
// - resend: receipts kept in cookies_preferences_pending (by ui.js) are
//   posted, and kept until acknowledged;
// - adpc: the browser offers the Advanced Data Protection Control
//   (navigator.dataProtectionControl): the categories are asked as consent
//   requests, and the visitor's decisions may make or withdraw a choice.
(() => {
  "use strict";

  // gone returns the names among present (keys of the page's web storage, or
  // IndexedDB database names) that the rows of storage type typ withdraw:
  // each matches a declared name of a refused category (ok(category) false)
  // and none of an accepted one (policy.Policy.ToClearIn).
  function gone(p, typ, present, ok, match) {
    return present.filter((n) => {
      var refused = false, kept = false;
      p.cookies.forEach((row) => {
        if (row.type === typ) row.names.forEach((pat) => {
          if (match(pat, n)) ok(row.category) ? kept = true : refused = true;
        });
      });
      return refused && !kept;
    });
  }

  // decide returns, for each optional category of p, what the ADPC user
  // decisions d say of it: false when it withdraws it (by id, or every one
  // with "*"), true when it consents to it, else undefined (the signal says
  // nothing of it).
  function decide(p, d) {
    var has = (list, id) => Array.isArray(list) && list.indexOf(id) >= 0;
    return p.categories.filter((cat) => !cat.required).map((cat) =>
      has(d && d.withdraw, cat.id) || has(d && d.withdraw, "*") ? false : has(d && d.consent, cat.id) || undefined);
  }

  // accepts reports whether category id is accepted under the consent c
  // (not null): required categories always are (policy.Policy.Accepts).
  function accepts(p, c, id) {
    return p.categories.some((cat) => cat.id === id && cat.required) || c.choices.some((ch) => ch[0] === id && ch[1]);
  }

  var codec = { gone: gone, decide: decide, accepts: accepts };
  if (typeof document === "undefined") {
    if (typeof module === "object") module.exports = codec;
    return;
  }

  // The consent host: beyond.js is served from its assets/.
  var consentHost = new URL("..", document.currentScript.src).href;

  // clear deletes what the consent c (embed.js's, not null) withdraws on the
  // portal's page (its origin): the cookies names (embed.js's toClear), and
  // the declared localStorage and sessionStorage items and IndexedDB
  // databases of the categories it refuses; match is the loader's
  // matchName.
  //
  // Cookies go on this host and its parent domains, on "/", the paths the
  // policy declares for them and the current path's ancestors. On a page
  // view (change false: a script set them again), they are reported once,
  // by name, to the consent host. On a change, every declared cookie name
  // without "*" the choice withdraws goes too: it may sit on a path this
  // page cannot see.
  // The databases are the page's own (indexedDB.databases()) where the
  // browser lists them, else the declared names without "*".
  function clear(p, c, match, names, change) {
    var ok = (id) => accepts(p, c, id), host = location.hostname, domains = [""], at = "", up = ["/"];
    if (!/^[0-9.]+$|:/.test(host)) {
      for (var d = host.split("."); d.length > 1; d.shift()) domains.push("; Domain=." + d.join("."));
    }
    location.pathname.split("/").forEach((seg) => { if (seg) up.push(at += "/" + seg); });
    if (change) p.cookies.forEach((row) => { if (!row.type) names = names.concat(gone(p, row.type, row.names.filter((n) => !n.includes("*")), ok, match)); });
    names = [...new Set(names)];
    names.forEach((name) => {
      var paths = up;
      p.cookies.forEach((row) => {
        if (!row.type && row.names.some((pat) => match(pat, name))) paths = paths.concat(row.paths || []);
      });
      domains.forEach((dom) => {
        paths.forEach((path) => {
          document.cookie = name + "=; Max-Age=0; Path=" + path + dom;
        });
      });
    });
    if (!change && names[0]) {
      try {
        navigator.sendBeacon(consentHost + "portals/" + p.id + "/cookies/reappeared", JSON.stringify({ revision: p.revision, names: names, page: location.origin + location.pathname }));
      } catch {}
    }
    [["localStorage", "localStorage"], ["sessionStorage", "sessionStorage"]].forEach((t) => {
      try {
        var s = window[t[1]];
        gone(p, t[0], Object.keys(s), ok, match).forEach((k) => { s.removeItem(k); });
      } catch {} // storage the page may not use (a sandbox, a blocked origin)
    });
    if (!window.indexedDB || !p.cookies.some((row) => row.type === "indexedDB")) return;
    var declared = [];
    p.cookies.forEach((row) => {
      if (row.type === "indexedDB") declared = declared.concat(row.names.filter((n) => !n.includes("*")));
    });
    Promise.resolve().then(() => indexedDB.databases()).then((dbs) => dbs.map((db) => db.name), () => declared)
      .then((names) => { gone(p, "indexedDB", names, ok, match).forEach((n) => { indexedDB.deleteDatabase(n); }); })
      .catch(() => {});
  }

  // adpc asks the browser's ADPC with the optional categories of p as
  // consent requests ({id, text}) and takes the visitor's decisions
  // (ADPC's user decisions object: {consent: [ids], withdraw: [ids or "*"],
  // object: […]}). current() returns embed.js's current choice (or null),
  // id() the consent id a choice keeps (embed.js's: "" draws a new one),
  // ui() loads ui.js (for its codec), changed(value) is embed.js's, match
  // its matchName. It resolves to true
  // when the decisions made a choice (every optional category decided:
  // stored, with method "signal"), else false, at the latest 3 s later (the
  // banner then shows; a later answer only withdraws). Later changes
  // (decisionchange) withdraw what the visitor withdraws.
  //
  // Without a current choice, the decisions make one when they decide every
  // optional category (a withdrawal of "*" decides them all); an ADPC
  // consent counts only for the categories it names. With a current
  // choice, a withdrawal refuses the categories it names; a consent does not
  // override the visitor's own choice.
  function adpc(p, current, ui, changed, match, id) {
    var dpc = navigator.dataProtectionControl, late = false;
    var opt = p.categories.filter((cat) => !cat.required);
    function take(d) {
      var said = decide(p, d), c = current(), now = Math.floor(Date.now() / 1000);
      var on = {};
      opt.forEach((cat, i) => {
        on[cat.id] = c ? said[i] !== false && c.choices.some((ch) => ch[0] === cat.id && ch[1]) : said[i];
      });
      if (c ? opt.every((cat) => on[cat.id] === c.choices.some((ch) => ch[0] === cat.id && ch[1])) :
        late || opt.some((cat) => on[cat.id] === undefined)) return false;
      return ui().then((start) => {
        var u = start.codec, next = u.choose(p, false, now, id()); // the readable choice's consent id kept
        next.choices.forEach((ch) => { if (ch[0] in on) ch[1] = on[ch[0]]; });
        var value = u.encode(next), refused = !next.choices.some((ch) => ch[1] && ch[0] in on);
        document.cookie = u.setCookie(value, refused && p.refusalLifetimeDays || p.lifetimeDays || 182, Date.now(),
          location.protocol === "https:", u.cookieDomainFor(p.cookieDomain || "", location.hostname));
        if (document.cookie.indexOf("cookies_preferences=" + value) < 0) return false;
        changed(value);
        u.send(p, value, "signal", match);
        return true;
      });
    }
    var asked = Promise.resolve().then(() => dpc.request(opt.map((cat) => ({ id: cat.id, text: cat.name + ": " + cat.description }))));
    try {
      dpc.addEventListener("decisionchange", (e) => { late = true; Promise.resolve(take(e.userDecisions)).catch(() => {}); });
    } catch {} // an implementation without events
    return Promise.race([asked.then(take, () => false), new Promise((resolve) => { setTimeout(resolve, 3000, false); })])
      .then((took) => { late = true; return took; });
  }

  // The receipts not yet acknowledged: in the portal's localStorage under
  // cookies_preferences_pending (ui.js's send adds each one, due at once), a
  // JSON list of at most 10 entries {url, body, at: first tried (ms), next:
  // next attempt (ms), n: attempts}.
  var PENDING = "cookies_preferences_pending";
  var list = () => JSON.parse(localStorage.getItem(PENDING)) || [];

  // pending keeps entry e, due at next (ms), in place of the entry of the
  // same body, or drops it (next 0); it drops the entries a week old and the
  // oldest beyond 10 (and a list that is not one). An empty list removes
  // the key.
  function pending(e, next) {
    var l = [];
    try {
      l = list().filter((x) => x.body !== e.body && Date.now() - x.at < 6048e5);
    } catch {}
    if (next) l.push(Object.assign(e, { next: next }));
    try {
      l[0] ? localStorage.setItem(PENDING, JSON.stringify(l.slice(-10))) : localStorage.removeItem(PENDING);
    } catch {}
  }

  // post sends entry e with fetch (CORS: the status is read; keepalive: it
  // outlives the page). 200/201 (acknowledged) and a final 4xx drop it; 429,
  // 5xx and a network error keep it, due after Retry-After when the host
  // says, else after 2^n seconds, n the attempts so far (at most an hour).
  // While it is on its way it stays due: a page left (or reloaded) before the
  // answer sends it again at its next view, which the host answers 200.
  function post(e) {
    var w = Math.min(2 ** e.n++, 3600);
    fetch(e.url, { method: "POST", body: e.body, keepalive: true, credentials: "omit" })
      .then((r) => r.status === 429 || r.status > 499 ? +r.headers.get("Retry-After") || w : 0, () => w)
      .then((s) => { pending(e, s && Date.now() + s * 1000); });
  }

  // resend posts the pending receipts that are due (embed.js calls it after
  // every change, and on a page view that finds some), and drops those a
  // week old.
  function resend() {
    try {
      list().forEach((e) => { if (e.next <= Date.now()) post(e); });
    } catch {}
    pending({}, 0);
  }

  window.__portalConsentBeyond = { clear: clear, adpc: adpc, resend: resend };
})();
