/* Admins' page: the access records (who saw a caller's unmasked number / ID, played a recording). */
"use strict";
(() => {
  const {el, clear, api, guarded, fmt} = Hotline;
  const $ = (id) => document.getElementById(id);
  const roles = {operator: "话务员", supervisor: "督办员", admin: "管理员", department: "承办单位"};
  let page = 1;

  async function load() {
    const f = $("acc-form");
    const q = new URLSearchParams({page: String(page), per_page: "50"});
    for (const name of ["ticket", "actor", "kind", "from", "to"]) {
      const v = f.elements.namedItem(name).value.trim();
      if (v) q.set(name, v);
    }
    const r = await guarded(() => api("GET", "/api/v1/privacy/access-records?" + q.toString()));
    const rows = clear($("acc-rows"));
    if (!r.items.length) rows.append(el("tr", {}, el("td", {colspan: "7", class: "muted", text: "没有访问记录"})));
    for (const a of r.items) {
      rows.append(el("tr", {},
        el("td", {text: fmt(a.at)}), el("td", {text: a.actor}), el("td", {text: roles[a.actor_role] || a.actor_role}),
        el("td", {text: a.kind_label}),
        el("td", {}, a.ticket ? el("a", {href: "/console/tickets/" + encodeURIComponent(a.ticket), text: a.ticket}) : "—"),
        el("td", {text: a.call_id || "—"}), el("td", {class: "muted", text: a.via})));
    }
    const pages = Math.max(1, Math.ceil(r.total / r.per_page));
    $("acc-page").textContent = `第 ${r.page} / ${pages} 页，共 ${r.total} 条`;
    $("acc-prev").disabled = r.page <= 1;
    $("acc-next").disabled = r.page >= pages;
  }
  $("acc-form").addEventListener("submit", (e) => { e.preventDefault(); page = 1; load(); });
  $("acc-prev").addEventListener("click", () => { page -= 1; load(); });
  $("acc-next").addEventListener("click", () => { page += 1; load(); });
  load();
})();
