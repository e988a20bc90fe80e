/* Department workbench: the unit's inbox, filtered, sorted and paged on the server (most urgent
 * first by default) with yellow/red markers; sign, return, extension, reply with attachments;
 * notified at once when a ticket arrives or is urged. */
"use strict";
(() => {
  const {el, clear, api, toast, fmt, statusLabel, deadlineOf, deadlineBadge, boot} = Hotline;
  const $ = (id) => document.getElementById(id);
  const OPEN = "dispatched,in_progress,returned,replied";
  const DONE = "callback,closed,merged,invalid";
  const S = {filter: "open", selected: null, fresh: new Set()};
  const TYPES = ["咨询", "求助", "投诉", "举报", "建议", "表扬", "申请"];

  function row(t) {
    const d = deadlineOf(t);
    const cls = [d.mark ? "deadline-" + d.mark : "", t.number === S.selected ? "selected" : "", S.fresh.has(t.number) ? "fresh" : ""].join(" ").trim();
    return el("li", {class: cls || null, "data-number": t.number},
      el("div", {class: "item-head"},
        el("a", {href: "#", text: t.number, onclick: (e) => { e.preventDefault(); select(t.number); }}),
        el("span", {class: "badge", text: statusLabel(t.status)}), el("span", {class: "badge", text: t.type}),
        t.urgency === "urgent" ? el("span", {class: "badge urgent", text: "紧急"}) : null,
        deadlineBadge(t),
        (t.urgings || []).some((u) => !u.acknowledged_at) ? el("span", {class: "badge urged", text: "督办"}) : null,
        t.main_department && boot.me.department && t.main_department.code !== boot.me.department.code
          ? el("span", {class: "badge", text: "协办"}) : null),
      el("div", {class: "clip", text: t.content}),
      el("div", {class: "muted", text: `时限 ${fmt(d.due)}` + (t.caller && t.caller.phone ? `　来电 ${t.caller.phone}` : "")}));
  }

  const inbox = PagedList.create({
    root: $("inbox"), url: "/api/v1/tickets", name: "待办工单", perPage: 50,
    params: () => ({status: S.filter === "open" ? OPEN : DONE}),
    search: "工单号、内容关键词，或来电号码后4位",
    filters: [
      {name: "type", label: "诉求类型", options: [["", "全部类型"], ...TYPES.map((t) => [t, t])]},
      {name: "deadline", label: "时限状态", options: [["", "全部时限"], ["overdue", "已超期"], ["near", "24小时内到期"], ["ok", "未到期"]]},
      {name: "town", label: "乡镇", options: [["", "全部乡镇"]]},
    ],
    sorts: [["urgency", "最紧急优先"], ["-received", "最新收到"], ["received", "最早收到"], ["number", "按工单号"]],
    empty: "暂无工单", key: (t) => t.number, render: row, open: (t) => select(t.number),
  });
  api("GET", "/api/v1/towns").then((towns) => {
    const sel = $("inbox").querySelector("select[name=town]");
    towns.forEach((t) => sel.append(el("option", {value: t.code, text: t.name})));
  }).catch((e) => console.error(e));

  async function select(number) {
    S.selected = number;
    document.querySelectorAll("#inbox li[data-number]").forEach((li) => li.classList.toggle("selected", li.dataset.number === number));
    try {
      await Case.open($("detail"), number, {onChanged: () => { select(number); reload(); }});
    } catch (err) {
      clear($("detail")).append(el("p", {class: "muted", text: "工单已不在本单位"}));
      S.selected = null;
    }
  }

  const reload = () => { inbox.reloadSoon(); setTimeout(() => S.fresh.clear(), 2500); };
  document.querySelectorAll("[data-filter]").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll("[data-filter]").forEach((x) => x.setAttribute("aria-selected", String(x === b)));
    S.filter = b.dataset.filter; inbox.restart();
  }));

  Hotline.live((name, p) => {
    if (name === "ticket.changed") {
      if (p.action === "dispatch" || p.action === "reassign" || p.action === "reopen") {
        toast(`新工单到达：${p.number}`); S.fresh.add(p.number);
      } else if (p.action === "urge") { toast(`督办提醒：工单 ${p.number}`, "error"); S.fresh.add(p.number); }
      else if (p.action === "escalate") { toast(`督办通报：工单 ${p.number}`, "error"); }
      reload();
      if (S.selected === p.number) select(p.number);
    } else if (name === "contact.progress") {
      Case.contactProgress(p);
      if (p.state === "ended" && S.selected === p.number) select(p.number);
    } else if (name === "urging.escalated") {
      reload();
    } else if (name === "deadline.card") {
      toast(`${p.card === "red" ? "红牌超期" : "黄牌预警"}：工单 ${p.number}`, p.card === "red" ? "error" : null);
      reload();
    }
  }, () => { reload(); if (S.selected) select(S.selected); });
})();
