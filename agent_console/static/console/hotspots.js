/* 热点诉求: one day's counts by catalogue matter x town, the week-over-week spikes (supervision's
 * test, computed on the server), clusters of similar requests; hotspot.detected arrives live. */
"use strict";
(() => {
  const {el, clear, api, guarded, toast} = Hotline;
  const $ = (id) => document.getElementById(id);
  // the day comes filled in by the server (?day= or the centre's today): nothing to set here
  const q = (v) => v == null ? "—" : (v < 0.0001 ? v.toExponential(1) : v.toFixed(4));
  const base = (v) => v == null ? "—" : String(v);

  function rows(tbody, items, cells) {
    clear(tbody).append(...items.map((it) => el("tr", {dataset: {matter: it.matter, town: it.town_name}}, ...cells(it).map((c) => el("td", {text: String(c)})))));
    if (!items.length) tbody.append(el("tr", {}, el("td", {class: "muted", colspan: 5, text: "无"})));
  }

  let latest = 0;  // a slower, earlier answer (the load on connecting) never replaces a newer one
  async function load() {
    const day = $("hs-day").value;
    const mine = ++latest;
    const r = await api("GET", "/api/v1/hotspots?day=" + encodeURIComponent(day));
    if (mine !== latest) return;
    $("hs-summary").textContent = `${r.day} 共 ${r.total} 件，检验 ${r.tested} 个事项×镇街组合，突增 ${r.spikes.length} 个`;
    $("hs-summary").dataset.total = r.total;
    $("hs-method").textContent = `${r.method}；基线为前 ${r.weeks} 周同一星期几，错误发现率 ${r.fdr}，当日至少 ${r.min_count} 件。`;
    rows($("hs-spikes").tBodies[0], r.spikes, (c) => [c.matter, c.town_name, c.count, base(c.baseline), q(c.q_value)]);
    rows($("hs-matters").tBodies[0], r.matters, (m) => [m.matter, m.count]);
    rows($("hs-cells").tBodies[0], r.cells, (c) => [c.matter, c.town_name, c.count, base(c.baseline), c.spike ? "突增" : ""]);
    clear($("hs-clusters")).append(...r.clusters.map((c) => el("li", {dataset: {matter: c.matter, town: c.town_name, size: c.size}},
      el("strong", {text: `${c.town_name} · ${c.matter} · ${c.size} 件`}), el("div", {class: "muted", text: c.sample}),
      el("div", {}, ...c.numbers.slice(0, 10).map((n) => el("a", {href: "/console/tickets/" + encodeURIComponent(n), text: n + " "}))))));
    if (!r.clusters.length) $("hs-clusters").append(el("li", {class: "muted", text: "无"}));
    document.body.dataset.loaded = r.day;
  }

  $("hs-form").addEventListener("submit", (e) => { e.preventDefault(); guarded(load); });
  Hotline.live((name, p) => {
    if (name !== "hotspot.detected") return;
    const list = $("hs-live");
    if (list.querySelector(".muted")) clear(list);
    list.prepend(el("li", {dataset: {alert: p.alert_id, matter: p.matter, town: p.town_name}},
      el("span", {class: "badge red", text: "突增"}), ` ${p.day} ${p.town_name}「${p.matter}」${p.count} 件（基线日均 ${p.baseline} 件）`));
    toast(`热点预警：${p.town_name}「${p.matter}」${p.count} 件`, "error");
    if (p.day === $("hs-day").value) guarded(load);
  }, () => guarded(load));
})();
