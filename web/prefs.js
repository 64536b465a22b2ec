/*! Portal Consent preferences */
// Loaded by ui.js (never by a portal directly) when the visitor opens the
// preferences (Customize) or the cookie policy on the server's banner before
// the Go app runs: it shows the server's rendering of those dialogs
// (dialogs.json: the app's own components, banner.Preferences and
// banner.PolicyDialog) at once, in the banner's shadow root, with the app's
// stylesheet, and handles them as the app does: a modal dialog that takes
// focus, keeps Tab and Shift+Tab inside, closes on Escape and Close
// (focus back to the banner's button that opened it), native switches
// (role="switch" checkboxes: mouse, keyboard and touch), the policy's Manage
// cookies opening the preferences. A choice saved here (Accept all, Reject
// all, Save) is stored by ui.js as an early Accept or Reject of the banner
// is: same cookie, same receipt (methods accept-all, reject-all, custom),
// and the app is not started. What is open and how the switches are set
// are kept in the frame's portalConsentConfig (start, draft): when the app
// arrives it opens the same view with the same switches, and ui.js's
// takeover moves focus to the app's element with the same id.
(() => {
  "use strict";
  // FOCUSABLE selects what Tab reaches in a dialog (banner/dialog.go).
  var FOCUSABLE = 'button:not([disabled]), input:not([disabled]), a[href], summary, [tabindex]:not([tabindex="-1"])';

  // ui.js calls this with {shadow, host, conf, keep(c, method, refusal),
  // ctx} (its banner's shadow root and host, the frame's
  // portalConsentConfig, its store of an early choice, the loader's
  // context), dialogs.json's content d, and the view to open
  // ("preferences" or "policy"). The first call on a shadow root sets it up.
  window.__portalConsentPrefs = (ui, d, view) => {
    (ui.shadow.pcOpen || (ui.shadow.pcOpen = setup(ui, d)))(view);
  };

  function setup(ui, d) {
    var shadow = ui.shadow, host = ui.host, conf = ui.conf, ctx = ui.ctx, p = ctx.cfg.policy;
    var root = shadow.firstElementChild, over = null, dlg = null, opener = "";
    var byId = (id) => shadow.getElementById(id);

    // drop removes the dialog shown, if any.
    function drop() {
      if (over) over.remove();
      over = dlg = null;
    }

    // open shows the dialog of view v over the banner, focus in it.
    function open(v) {
      if (!d[v]) return;
      drop();
      opener = opener || (v === "policy" ? "pc-policy" : "pc-customize");
      conf.start = v;
      conf.draft = conf.draft || {};
      var box = document.createElement("div");
      box.innerHTML = d[v];
      over = box.firstElementChild;
      dlg = over.querySelector("[role=dialog]");
      var gpc = over.querySelector("#pc-prefs-gpc");
      if (gpc && !ctx.gpc) gpc.remove();
      root.appendChild(over);
      root.setAttribute("data-pc-mode", "modal");
      // The host, a line along the bottom, covers the viewport: the overlay
      // is laid out in it (banner.css).
      host.style.setProperty("--pc-host-height", "100%", "important");
      host.style.removeProperty("cursor");
      var b = byId(opener);
      if (b) b.removeAttribute("aria-busy"); // what it opened is here
      dlg.focus();
    }

    // close closes the dialog: the banner stays, focus goes back to the
    // button that opened the dialog, and the app, when it comes, starts on
    // the banner.
    function close() {
      drop();
      conf.start = "";
      conf.draft = {};
      root.setAttribute("data-pc-mode", "banner");
      host.style.removeProperty("--pc-host-height");
      var b = byId(opener);
      opener = "";
      if (b) b.focus();
    }

    // save stores the choice of the preferences: every category (all), none
    // but the required ones, or (method custom) those whose switch is on.
    function save(all, method) {
      var c = window.__portalConsentUI.codec.choose(p, all, Math.floor(Date.now() / 1000), ctx.id());
      c.choices = c.choices.map((ch) => [ch[0], ch[1] || (method === "custom" && !!(byId("pc-switch-" + ch[0]) || {}).checked)]);
      ui.keep(c, method, !c.choices.some((ch, i) => ch[1] && !p.categories[i].required));
    }

    shadow.addEventListener("click", (e) => {
      var t = over && e.target.closest && e.target.closest("button");
      if (!t || !over.contains(t)) return;
      var act = {
        "pc-close": close,
        "pc-manage": () => { open("preferences"); },
        "pc-prefs-accept": () => { save(true, "accept-all"); },
        "pc-prefs-reject": () => { save(false, "reject-all"); },
        "pc-save": () => { save(false, "custom"); }
      }[t.id];
      if (act) act();
    });
    shadow.addEventListener("change", (e) => {
      var t = e.target;
      if (over && t.matches(".pc-switch") && !t.disabled) conf.draft[t.id.slice(10)] = t.checked; // pc-switch-<id>
    });
    // Escape closes; Tab and Shift+Tab cycle inside the dialog.
    shadow.addEventListener("keydown", (e) => {
      if (!dlg || !dlg.contains(e.target)) return;
      if (e.key === "Escape" || e.key === "Esc") {
        e.preventDefault();
        close();
      } else if (e.key === "Tab") {
        var items = dlg.querySelectorAll(FOCUSABLE), first = items[0], last = items[items.length - 1], a = shadow.activeElement;
        if (!first) {
          e.preventDefault();
        } else if (e.shiftKey && (a === first || a === dlg)) {
          e.preventDefault();
          last.focus();
        } else if (!e.shiftKey && a === last) {
          e.preventDefault();
          first.focus();
        }
      }
    });
    return open;
  }
})();
