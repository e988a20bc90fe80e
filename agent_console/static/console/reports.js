/* 报表: the supervisor's KPI reports. Every figure, its display text, the ranking and the KPI
 * definitions come from /api/v1/reports (supervision.reports); the page only lays them out. Charts
 * use the vendored Apache ECharts; each has a data table beside it (the text version for screen
 * readers, and the fallback when the library is absent). A figure opens the tickets it counts. */
"use strict";
(() => {
  const {el, clear, api, guarded, fmt, statusLabel} = Hotline;
  const $ = (id) => document.getElementById(id);
  const form = $("report-form");
  const S = {rep: null, sort: null, order: "desc", drill: null, list: null, charts: {}};
  const hasCharts = typeof window.echarts !== "undefined";

  function baseParams() {
    const p = {};
    for (const name of ["from", "to", "group_by", "department", "type"]) {
      const v = form.elements[name].value;
      if (v) p[name] = v;
    }
    return p;
  }

  function reportParams() {
    const p = baseParams();
    if (S.sort) { p.sort = S.sort; p.order = S.order; }
    return new URLSearchParams(p);
  }

  async function loadChoices() {
    const depts = await api("GET", "/api/v1/departments");
    form.elements.department.append(...depts.map((d) => el("option", {value: d.code, text: d.name})));
    form.elements.type.append(...(Hotline.boot.types || []).map((t) => el("option", {value: t, text: t})));
  }

  function sortButton(col) {
    const active = S.sort === col.key;
    const arrow = active ? (S.order === "desc" ? " ↓" : " ↑") : "";
    return el("button", {type: "button", class: "th-sort", "data-sort": col.key, title: col.description || null,
      text: col.label + arrow, onclick: () => {
        if (S.sort === col.key) S.order = S.order === "desc" ? "asc" : "desc";
        else { S.sort = col.key; S.order = col.lower_is_better ? "asc" : "desc"; }
        load();
      }});
  }

  function cell(rep, row, col, isTotal) {
    const text = row.text[col.key];
    if (!col.drill || row.values[col.key] === null) return el("td", {"data-col": col.key, text});
    return el("td", {"data-col": col.key}, el("button", {type: "button", class: "figure", text,
      "aria-label": `${row.label} ${col.label} ${text}：查看统计工单`,
      onclick: () => openDrill(isTotal ? null : row.key, row.label, col)}));
  }

  function renderTable(rep) {
    const ranked = rep.rows.some((r) => "rank" in r);
    const table = clear($("report-table"));
    const head = el("tr", {}, ranked ? el("th", {scope: "col", text: "排名"}) : null,
      el("th", {scope: "col"}, el("button", {type: "button", class: "th-sort", "data-sort": "key", text: rep.group_label,
        onclick: () => { S.order = S.sort === "key" && S.order === "asc" ? "desc" : "asc"; S.sort = "key"; load(); }})),
      ...rep.columns.map((c) => el("th", {scope: "col", title: c.description, "data-col": c.key,
        "aria-sort": S.sort === c.key ? (S.order === "desc" ? "descending" : "ascending") : null}, sortButton(c))));
    const body = el("tbody", {});
    for (const r of rep.rows) {
      body.append(el("tr", {"data-key": r.key}, ranked ? el("td", {"data-col": "rank", text: r.rank == null ? "" : String(r.rank)}) : null,
        el("th", {scope: "row", text: r.label}), ...rep.columns.map((c) => cell(rep, r, c, false))));
    }
    if (!rep.rows.length) body.append(el("tr", {}, el("td", {colspan: String(rep.columns.length + 2), class: "muted", text: "该期间没有数据"})));
    const foot = el("tfoot", {}, el("tr", {"data-key": "total"}, ranked ? el("td", {}) : null,
      el("th", {scope: "row", text: rep.total.label}), ...rep.columns.map((c) => cell(rep, rep.total, c, true))));
    table.append(el("thead", {}, head), body, foot);
    $("report-caption").textContent = `${rep.from} 至 ${rep.to}，按${rep.group_label}分组` + (S.sort && S.sort !== "key"
      ? `，按${rep.columns.find((c) => c.key === S.sort).label}排名` : "");
  }

  function renderDefinitions(rep) {
    clear($("definitions")).append(...rep.columns.flatMap((c) => [el("dt", {text: c.label}),
      el("dd", {text: c.description + (c.denominator ? `（分子 ${c.numerator}，分母 ${c.denominator}）` : "")})]));
  }

  function chartKpi(rep) {
    const sel = form.elements.chart_kpi;
    if (!sel.options.length) {
      sel.append(...rep.columns.map((c) => el("option", {value: c.key, text: c.label})));
      sel.value = "on_time_rate";
    }
    return rep.columns.find((c) => c.key === sel.value) || rep.columns[0];
  }

  function dataTable(table, header, rows) {
    clear(table).append(el("thead", {}, el("tr", {}, ...header.map((h) => el("th", {scope: "col", text: h})))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, el("th", {scope: "row", text: r[0]}), ...r.slice(1).map((v) => el("td", {text: v}))))));
  }

  function draw(id, option, onClick) {
    const node = $(id);
    if (!hasCharts) { node.hidden = true; node.nextElementSibling.open = true; return; }
    let chart = S.charts[id];
    if (!chart) {
      chart = S.charts[id] = window.echarts.init(node, null, {renderer: "canvas"});
      window.addEventListener("resize", () => chart.resize());
    }
    chart.off("click");
    if (onClick) chart.on("click", onClick);
    chart.setOption(option, true);
    node.dataset.rendered = String(Date.now());
  }

  const axisFormat = (col) => (v) => col.kind === "rate" ? `${Math.round(v * 1000) / 10}%` : String(v);

  function renderDistribution(rep, col) {
    const rows = rep.rows.filter((r) => r.values[col.key] !== null);
    $("dist-title").textContent = `分布：${col.label}（按${rep.group_label}）`;
    dataTable($("dist-table"), [rep.group_label, col.label], rows.map((r) => [r.label, r.text[col.key]]));
    draw("dist-chart", {
      grid: {left: 60, right: 20, top: 20, bottom: 80}, tooltip: {trigger: "axis"},
      xAxis: {type: "category", data: rows.map((r) => r.label), axisLabel: {rotate: 40, interval: 0}},
      yAxis: {type: "value", axisLabel: {formatter: axisFormat(col)}},
      series: [{type: "bar", name: col.label, data: rows.map((r) => r.values[col.key]), itemStyle: {color: "#1565c0"}}],
    }, col.drill ? (p) => openDrill(rows[p.dataIndex].key, rows[p.dataIndex].label, col) : null);
  }

  async function renderTrend(rep, col) {
    const days = (Date.parse(rep.to) - Date.parse(rep.from)) / 86400000 + 1;
    const group = days <= 62 ? "day" : days <= 366 ? "week" : "month";
    const p = baseParams();
    p.group_by = group; p.from = rep.from; p.to = rep.to;
    const t = await api("GET", `/api/v1/reports?${new URLSearchParams(p)}`);
    $("trend-title").textContent = `趋势：${col.label}（${t.group_label}）`;
    dataTable($("trend-table"), [t.group_label, col.label], t.rows.map((r) => [r.label, r.text[col.key]]));
    draw("trend-chart", {
      grid: {left: 60, right: 20, top: 20, bottom: 60}, tooltip: {trigger: "axis"},
      xAxis: {type: "category", data: t.rows.map((r) => r.key)},
      yAxis: {type: "value", axisLabel: {formatter: axisFormat(col)}},
      series: [{type: "line", name: col.label, data: t.rows.map((r) => r.values[col.key]), connectNulls: false}],
    }, col.drill ? (q) => {
      const r = t.rows[q.dataIndex];
      form.elements.group_by.value = group;
      S.sort = null;
      load().then(() => openDrill(r.key, r.label, col));
    } : null);
  }

  function renderExports() {
    const q = reportParams();
    $("export-xlsx").href = `/api/v1/reports/export.xlsx?${q}`;
    $("export-csv").href = `/api/v1/reports/export.csv?${q}`;
  }

  async function load() {
    $("report-status").textContent = "加载中…";
    const rep = await guarded(() => api("GET", `/api/v1/reports?${reportParams()}`));
    if (!rep) { $("report-status").textContent = "加载失败"; return null; }
    S.rep = rep;
    form.elements.from.value = rep.from;
    form.elements.to.value = rep.to;
    renderTable(rep);
    renderDefinitions(rep);
    renderExports();
    const col = chartKpi(rep);
    renderDistribution(rep, col);
    await guarded(() => renderTrend(rep, col));
    $("report-status").textContent = `已加载：${rep.from} 至 ${rep.to}，${rep.rows.length} 行`;
    document.body.dataset.report = String(Date.now());
    return rep;
  }

  // -- drill-down: the tickets a figure counts (paged on the server) ---------------------------------
  function openDrill(key, rowLabel, col) {
    S.drill = {key, rowLabel, col, part: "denominator", params: baseParams()};
    const panel = $("drill");
    panel.hidden = false;
    for (const b of panel.querySelectorAll("[data-part]")) b.hidden = !col.denominator;
    showDrill();
    panel.scrollIntoView({block: "start"});
  }

  function showDrill() {
    const d = S.drill;
    const partLabel = d.col.denominator ? (d.part === "numerator" ? "分子" : "分母") : "";
    $("drill-title").textContent = `统计工单：${d.rowLabel} · ${d.col.label}${partLabel ? " · " + partLabel : ""}`;
    for (const b of $("drill").querySelectorAll("[data-part]")) b.setAttribute("aria-pressed", String(b.dataset.part === d.part));
    const params = {...d.params, kpi: d.col.key, part: d.part};
    if (d.key !== null) params.key = d.key;
    S.list = PagedList.create({
      root: $("drill-list"), url: "/api/v1/reports/tickets", name: "统计工单", perPage: 50,
      params: () => params, key: (t) => t.number, empty: "没有工单",
      open: (t) => { window.location.href = `/console/tickets/${encodeURIComponent(t.number)}`; },
      render: (t) => el("li", {"data-number": t.number},
        el("div", {class: "item-head"}, el("a", {href: `/console/tickets/${encodeURIComponent(t.number)}`, text: t.number}),
          el("span", {class: "badge", text: t.type}), el("span", {class: "badge", text: statusLabel(t.status)}),
          el("span", {class: "muted", text: `${t.unit.name}${t.town ? " · " + t.town : ""} · 受理 ${fmt(t.received_at)}`}),
          t.count > 1 ? el("span", {class: "badge", text: `计 ${t.count} 次`}) : null),
        el("div", {class: "clip", text: t.content})),
    });
    S.list.reload().then((r) => {
      if (r) $("drill-figure").textContent = `${d.col[d.part] || d.col.numerator}：合计 ${r.figure}，共 ${r.total} 件工单`;
    });
  }

  $("drill").addEventListener("click", (e) => {
    const b = e.target.closest("[data-part]");
    if (b && S.drill) { S.drill.part = b.dataset.part; showDrill(); }
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  form.elements.chart_kpi.addEventListener("change", () => {
    if (!S.rep) return;
    const col = chartKpi(S.rep);
    renderDistribution(S.rep, col);
    guarded(() => renderTrend(S.rep, col));
  });
  form.elements.group_by.addEventListener("change", () => { S.sort = null; load(); });

  guarded(async () => { await loadChoices(); await load(); });
})();
