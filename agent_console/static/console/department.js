/* Department workbench: inbox ordered by deadline with yellow/red markers; sign, return, extension,
 * reply with attachments; notified at once when a ticket arrives or is urged. */
"use strict";
(() => {
  const {el, clear, api, guarded, toast, fmt, statusLabel, deadlineOf, deadlineBadge, debounce, boot} = Hotline;
  const $ = (id) => document.getElementById(id);
  const OPEN = "dispatched,in_progress,returned,replied";
  const DONE = "callback,closed,merged,invalid";
  const S = {filter: "open", selected: null, fresh: new Set()};

  async function loadInbox() {
    const r = await api("GET", `/api/v1/tickets?status=${S.filter === "open" ? OPEN : DONE}&per_page=200`);
    const items = r.items.slice().sort((a, b) => {
      const da = deadlineOf(a).due, db = deadlineOf(b).due;
      return (da ? new Date(da) : Infinity) - (db ? new Date(db) : Infinity);
    });
    const list = clear($("inbox"));
    if (!items.length) list.append(el("li", {class: "muted", text: "暂无工单"}));
    for (const t of items) {
      const d = deadlineOf(t);
      const cls = [d.mark ? "deadline-" + d.mark : "", t.number === S.selected ? "selected" : "", S.fresh.has(t.number) ? "fresh" : ""].join(" ").trim();
      list.append(el("li", {class: cls || null, "data-number": t.number},
        el("div", {class: "item-head"},
          el("a", {href: "#", text: t.number, onclick: (e) => { e.preventDefault(); select(t.number); }}),
          el("span", {class: "badge", text: statusLabel(t.status)}), el("span", {class: "badge", text: t.type}),
          t.urgency === "urgent" ? el("span", {class: "badge urgent", text: "紧急"}) : null,
          deadlineBadge(t),
          (t.urgings || []).some((u) => !u.acknowledged_at) ? el("span", {class: "badge urged", text: "督办"}) : null,
          t.main_department && boot.me.department && t.main_department.code !== boot.me.department.code
            ? el("span", {class: "badge", text: "协办"}) : null),
        el("div", {class: "clip", text: t.content}),
        el("div", {class: "muted", text: `时限 ${fmt(d.due)}`})));
    }
    S.fresh.clear();
  }

  async function select(number) {
    S.selected = number;
    document.querySelectorAll("#inbox li").forEach((li) => li.classList.toggle("selected", li.dataset.number === number));
    try {
      await Case.open($("detail"), number, {onChanged: () => { select(number); reload(); }});
    } catch (err) {
      clear($("detail")).append(el("p", {class: "muted", text: "工单已不在本单位"}));
      S.selected = null;
    }
  }

  const reload = debounce(() => guarded(loadInbox), 200);
  document.querySelectorAll("[data-filter]").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll("[data-filter]").forEach((x) => x.setAttribute("aria-selected", String(x === b)));
    S.filter = b.dataset.filter; reload();
  }));

  Hotline.live((name, p) => {
    if (name === "ticket.changed") {
      if (p.action === "dispatch" || p.action === "reassign" || p.action === "reopen") {
        toast(`新工单到达：${p.number}`); S.fresh.add(p.number);
      } else if (p.action === "urge") { toast(`督办提醒：工单 ${p.number}`, "error"); S.fresh.add(p.number); }
      else if (p.action === "escalate") { toast(`督办通报：工单 ${p.number}`, "error"); }
      reload();
      if (S.selected === p.number) select(p.number);
    } else if (name === "urging.escalated") {
      reload();
    } else if (name === "deadline.card") {
      toast(`${p.card === "red" ? "红牌超期" : "黄牌预警"}：工单 ${p.number}`, p.card === "red" ? "error" : null);
      reload();
    }
  }, () => { reload(); if (S.selected) select(S.selected); });
})();
