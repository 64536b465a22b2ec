// The floor of the benchmarks (server/lighthouse_bench_test.go,
// server/returning_bench_test.go): the least any loader does under our
// one-tag contract on a page view. One async script from another origin
// reads the visitor's cookies and fetches the portal's configuration from
// the consent host, and nothing else: no rule applied, no banner, no API.
// Whatever our loader costs beyond it is ours to cut; what it costs is the
// contract's.
(() => {
  var s = document.currentScript;
  Promise.all([
    window.cookieStore ? cookieStore.getAll() : document.cookie,
    fetch(s.getAttribute("data-consent") + "/portals/mtran/config.json?lang=en", { credentials: "omit" }).then((r) => r.json())
  ]).then(() => { window.__floorReady = true; });
})();
