/* 考核: one month's score, rank and breakdown per unit (the published snapshot, or live), the
 * XLSX export and printable page of the same figures; admins edit the scheme and publish. */
"use strict";
(() => {
  const {el, clear, api, guarded, toast} = Hotline;
  const $ = (id) => document.getElementById(id);
  const admin = Hotline.boot.me.role === "admin";
  // the month comes filled in by the server (?month= or the last month ended in the centre)
  const pct = (v) => v == null ? "—" : (Math.round(v * 10000) / 100).toFixed(2) + "%";
  const num = (v) => v == null ? "—" : Number(v).toFixed(2);

  function render(v) {
    const kpiKeys = Object.keys(v.scheme.weights);
    const dedKeys = Object.keys(v.labels.deductions);
    $("as-state").textContent = v.published ? `已发布（${v.published_by}，${Hotline.fmt(v.published_at)}），数据已冻结` : "未发布（实时计算）";
    $("as-state").dataset.published = v.published ? "yes" : "no";
    $("as-publish").hidden = !admin || v.published;
    $("as-xlsx").href = "/api/v1/assessment/export.xlsx?month=" + v.month;
    $("as-print").href = "/console/assessment/print?month=" + v.month;
    const head = ["名次", "单位", "派单件数", ...kpiKeys.map((k) => `${v.labels.kpis[k] || k}（${v.scheme.weights[k]} 分）`), "基础分",
      ...dedKeys.map((k) => `${v.labels.deductions[k]}（每次 ${v.scheme.deductions[k]} 分）`), "扣分", "得分"];
    clear($("as-table").tHead).append(el("tr", {}, ...head.map((h) => el("th", {scope: "col", text: h}))));
    clear($("as-table").tBodies[0]).append(...v.rows.map((r) => el("tr", {dataset: {code: r.department.code}},
      el("td", {"data-col": "rank", text: String(r.rank)}), el("td", {text: r.department.name}), el("td", {text: String(r.dispatched)}),
      ...kpiKeys.map((k) => el("td", {"data-kpi": k, title: r.kpis[k].points == null ? "无数据，不计入" : `得 ${r.kpis[k].points} 分`, text: pct(r.kpis[k].value)})),
      el("td", {"data-col": "base", text: num(r.base)}),
      ...dedKeys.map((k) => el("td", {"data-deduction": k, text: String(r.deductions[k].count)})),
      el("td", {"data-col": "deducted", text: num(r.deducted)}), el("td", {"data-col": "score", text: num(r.score)}))));
    if (!v.rows.length) $("as-table").tBodies[0].append(el("tr", {}, el("td", {colspan: head.length, class: "muted", text: "本月无考核数据"})));
    document.body.dataset.loaded = v.month;
  }

  let latest = 0;  // a slower, earlier answer never replaces the month asked for last
  async function load() {
    const mine = ++latest;
    const v = await api("GET", "/api/v1/assessment?month=" + encodeURIComponent($("as-month").value));
    if (mine === latest) render(v);
  }

  async function loadScheme() {
    const s = await api("GET", "/api/v1/assessment/scheme");
    const box = clear($("as-scheme-fields"));
    const field = (group, key, label, value) => el("label", {}, label + " ",
      el("input", {type: "number", min: 0, max: 100, step: "0.1", name: `${group}.${key}`, value: value ?? 0, disabled: !admin, "aria-label": label}));
    for (const [k, label] of Object.entries(s.labels.kpis)) box.append(field("weights", k, `${label}权重`, s.weights[k]));
    for (const [k, label] of Object.entries(s.labels.deductions)) box.append(field("deductions", k, `${label}每次扣分`, s.deductions[k]));
    $("as-scheme-save").hidden = !admin;
  }

  $("as-form").addEventListener("submit", (e) => { e.preventDefault(); guarded(load); });
  $("as-publish").addEventListener("click", () => guarded(async () => {
    if (!confirm(`发布 ${$("as-month").value} 的考核结果？发布后不再变化。`)) return;
    render(await api("POST", `/api/v1/assessment/${$("as-month").value}/publish`, {}));
    toast("已发布");
  }));
  $("as-scheme-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {weights: {}, deductions: {}};
    for (const input of $("as-scheme-fields").querySelectorAll("input")) {
      const [group, key] = input.name.split(".");
      const v = Number(input.value);
      if (group === "deductions" || v > 0) body[group][key] = v;
    }
    guarded(async () => { await api("PUT", "/api/v1/assessment/scheme", body); toast("考核方案已保存"); await loadScheme(); await load(); });
  });
  Hotline.live(() => {}, () => { guarded(load); guarded(loadScheme); });
})();
