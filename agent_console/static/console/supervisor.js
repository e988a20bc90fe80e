/* Supervisor views: live wallboard, near-deadline and overdue lists, extension approvals, urging,
 * callback queue. Counters re-read the snapshot endpoint whenever an event says something moved. */
"use strict";
(() => {
  const {el, clear, api, guarded, fmt, statusLabel, deadlineBadge, debounce, toast} = Hotline;
  const $ = (id) => document.getElementById(id);
  const S = {list: "overdue", selected: null};
  const SVG = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs) => { const n = document.createElementNS(SVG, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); return n; };

  function bars(items) {
    const w = 380, bh = 18, gap = 4, max = Math.max(1, ...items.map((i) => i.count));
    const s = svg("svg", {width: w, height: items.length * (bh + gap), role: "img", "aria-label": "今日工单按类型"});
    items.forEach((it, i) => {
      const y = i * (bh + gap);
      const label = svg("text", {x: 0, y: y + 13}); label.textContent = it.type; s.append(label);
      s.append(svg("rect", {x: 40, y, width: Math.max(1, (w - 90) * it.count / max), height: bh, fill: "#1565c0"}));
      const v = svg("text", {x: 46 + (w - 90) * it.count / max, y: y + 13}); v.textContent = String(it.count); s.append(v);
    });
    return s;
  }

  async function loadWallboard() {
    const w = await api("GET", "/api/v1/console/wallboard");
    $("k-waiting").textContent = w.calls.waiting;
    $("k-talking").textContent = w.calls.talking;
    // today's call KPIs: the server's one computation (supervision's rollup), labels included
    const k = w.call_kpis;
    const pct = (v) => v == null ? "—" : Math.round(v * 1000) / 10 + "%";
    $("k-share").textContent = pct(k.answer_15s_rate);
    $("k-share-label").textContent = k.labels.answer_15s_rate;
    $("k-offered").textContent = k.offered;
    $("k-tickets").textContent = w.tickets_today.total;
    $("k-answer-rate").textContent = pct(k.answer_rate);
    $("k-answer-rate").title = `今日 ${k.offered} 通，接通 ${k.answered} 通，${k.labels.answer_15s_rate} ${pct(k.answer_15s_rate)}`;
    $("k-avg").textContent = `${k.avg_wait == null ? "—" : k.avg_wait} / ${k.avg_talk == null ? "—" : k.avg_talk}`;
    $("k-abandoned").textContent = k.abandoned;
    clear($("op-states")).append(...w.operator_states.map((s) => el("span", {class: "badge", "data-state": s.state, text: `${s.label} ${s.count}`})));
    clear($("operators")).append(...w.operators.map((o) => el("li", {},
      `${o.display_name}（${o.extension || "无分机"}）`, el("span", {class: "badge", text: o.label}),
      el("span", {class: "muted", text: o.since ? " 自 " + fmt(o.since) : ""}))));
    clear($("by-type")).append(bars(w.tickets_today.by_type));
    clear($("by-status")).append(...w.tickets_today.by_status.filter((s) => s.count).map((s) =>
      el("tr", {}, el("td", {text: s.label}), el("td", {text: String(s.count)}))));
  }

  /** Supervision's lists (its yellow/red card rules, paged on the server, one row per ticket with
   * its worst card first) when that package is installed; the console's own deadline query otherwise.
   * Rows are normalised to the ticket shape used here. */
  const norm = (r) => r.deadlines ? r : {number: r.number, status: r.status, type: r.type, content: r.content || "",
    main_department: r.department || null, card: r.card || null, cards: r.cards || [], extensions: [],
    deadlines: {sign_by: r.sign_by, reply_by: r.reply_by}, deadline_at: r.deadline_at, deadline_kind: r.deadline_kind,
    deadline_state: {card: r.card || "none", kind: r.deadline_kind || null, due: r.deadline_at || null}};
  const sup = (Hotline.boot.features || {}).supervision;
  const CARD = {red: "红牌", yellow: "黄牌"};
  const KIND = {sign: "签收", reply: "办结"};
  const STATE = {open: "待签收", acknowledged: "已签收", escalated: "已通报"};

  function badge(t) {
    if (t.card === "red") return el("span", {class: "badge red", text: "红牌超期"});
    if (t.card === "yellow") return el("span", {class: "badge yellow", text: "黄牌预警"});
    return deadlineBadge(t);
  }

  function ticketRow(raw, extra) {
    const t = norm(raw);
    const due = t.deadline_at || t.deadlines.reply_by;
    return el("li", {class: t.number === S.selected ? "selected" : null, "data-number": t.number},
      el("div", {class: "item-head"},
        el("a", {href: "#", text: t.number, onclick: (e) => { e.preventDefault(); select(t.number); }}),
        el("span", {class: "badge", text: statusLabel(t.status)}), badge(t),
        el("span", {class: "muted", text: t.main_department ? t.main_department.name : ""})),
      el("div", {class: "clip", text: t.content}),
      (t.cards || []).length ? el("div", {class: "muted cards", text: t.cards.map((c) =>
        `${CARD[c.card]}·${KIND[c.deadline_kind]}时限 ${fmt(c.deadline_at)}` + (c.overdue_workdays ? `（超 ${c.overdue_workdays} 个工作日）` : "")).join("；")})
        : el("div", {class: "muted", text: `${t.deadline_kind === "sign" ? "签收" : "办结"}时限 ${fmt(due)}`}),
      extra || null);
  }

  function urgingRow(u) {
    const t = u.ticket;
    return el("li", {"data-number": t.number, "data-state": u.state},
      el("div", {class: "item-head"},
        el("a", {href: "#", text: t.number, onclick: (e) => { e.preventDefault(); select(t.number); }}),
        el("span", {class: "badge" + (u.state === "escalated" ? " red" : ""), text: STATE[u.state] || u.state}),
        el("span", {class: "muted", text: u.unit ? u.unit.name : (t.department ? t.department.name : "")})),
      el("div", {class: "clip", text: u.note}),
      el("div", {class: "muted", text: `督办人 ${u.urged_by}　督办时间 ${fmt(u.urged_at)}` + (u.due_at ? `　要求 ${fmt(u.due_at)} 前办结` : "") +
        (u.acknowledged_at ? `　${u.acknowledged_by || ""} ${fmt(u.acknowledged_at)} 签收` : "") +
        (u.escalated_at ? `　${fmt(u.escalated_at)} 通报` : "")}));
  }

  function escalationRow(e) {
    const t = e.ticket, u = e.urging;
    return el("li", {"data-number": t.number, "data-state": e.state},
      el("div", {class: "item-head"},
        el("a", {href: "#", text: t.number, onclick: (ev) => { ev.preventDefault(); select(t.number); }}),
        el("span", {class: "badge red", text: "通报"}),
        el("span", {class: "badge", text: e.state === "acknowledged" ? "督办已签收" : "督办未签收"}),
        el("span", {class: "badge", text: statusLabel(t.status)}),
        el("span", {class: "muted", text: e.unit ? e.unit.name : ""})),
      el("div", {class: "clip", text: u.note}),
      el("div", {class: "muted", text: `通报时间 ${fmt(e.escalated_at)}　超期自 ${fmt(e.overdue_since)}　督办人 ${e.issued_by}（${fmt(u.urged_at)}）`}));
  }

  const open = (item) => select(item.number || item.ticket.number);
  const key = (item) => item.number || `${item.id}`;
  const paged = (id, url, name, render, extra) => PagedList.create({root: $(id), url, name, render, key, open,
    perPage: 25, empty: "暂无", ...(extra || {})});
  const LISTS = {};
  if (sup) {
    LISTS.overdue = paged("list-overdue", "/api/v1/supervision/overdue", "超期工单", (t) => ticketRow(t));
    LISTS.near = paged("list-near", "/api/v1/supervision/near-deadline", "临期工单", (t) => ticketRow(t));
    LISTS.callbacks = paged("list-callbacks", "/api/v1/supervision/callbacks", "回访队列", (t) => ticketRow(t));
    LISTS.escalations = paged("list-escalations", "/api/v1/supervision/escalations", "通报", escalationRow);
    LISTS.urgings = paged("list-urgings", "/api/v1/supervision/urgings", "督办", urgingRow, {filters: [
      {name: "state", label: "督办状态", options: [["", "全部状态"], ["open", "待签收"], ["acknowledged", "已签收"], ["escalated", "已通报"]]}]});
  } else {
    const tickets = (name, params, sort) => PagedList.create({root: $(`list-${name}`), url: "/api/v1/tickets", name,
      params: () => params, sorts: [[sort, "默认"]], render: (t) => ticketRow(t), key, open, perPage: 25, empty: "暂无"});
    LISTS.overdue = tickets("overdue", {deadline: "overdue"}, "urgency");
    LISTS.near = tickets("near", {deadline: "near"}, "urgency");
    LISTS.callbacks = tickets("callbacks", {status: "callback"}, "received");
  }

  // 延期审批: paged on the server, the oldest request first
  LISTS.extensions = paged("list-extensions", "/api/v1/console/extensions", "延期审批", (t) => {
    const pending = (t.extensions || []).find((e) => e.status === "pending");
    return ticketRow(t, pending ? el("div", {class: "muted", text: `申请延期 ${pending.workdays} 个工作日：${pending.reason}`}) : null);
  });

  async function loadLists() {
    const results = await Promise.all(Object.values(LISTS).map((l) => l.reload()));
    if (LISTS.overdue) $("k-overdue").textContent = LISTS.overdue.state.total;
    if (LISTS.near) $("k-near").textContent = LISTS.near.state.total;
    return results;
  }

  async function select(number) {
    S.selected = number;
    await guarded(() => Case.open($("detail"), number, {onChanged: () => { select(number); refreshSoon(); }}));
  }

  document.querySelectorAll("[data-list]").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll("[data-list]").forEach((x) => x.setAttribute("aria-selected", String(x === b)));
    S.list = b.dataset.list;
    document.querySelectorAll("[data-pane]").forEach((p) => { p.hidden = p.dataset.pane !== S.list; });
  }));

  const refreshBoard = debounce(() => loadWallboard().catch((e) => console.error(e)), 150);
  const refreshSoon = debounce(() => loadLists().catch((e) => console.error(e)), 250);
  Hotline.live((name, p) => {
    refreshBoard();
    if (name.startsWith("ticket.") || name === "deadline.card" || name.startsWith("urging.")) refreshSoon();
    if (name === "call.intake" && p.reason === "proxy_unreachable") toast("电话系统异常：SIP 代理无响应，来电已转语音留言", "error");
    if (name === "hotspot.detected") toast(`热点预警：${p.town_name}「${p.matter}」${p.day} ${p.count} 件（前几周同日均 ${p.baseline} 件）`, "error");
    if (name === "deadline.card") toast(`${p.card === "red" ? "红牌超期" : "黄牌预警"}：${p.number}`);
    if (S.selected && p.number === S.selected) select(S.selected);
  }, () => { refreshBoard(); refreshSoon(); if (S.selected) select(S.selected); });
})();
