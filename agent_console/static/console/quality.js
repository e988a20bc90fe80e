/* 质检 page: inspections (an operator sees their own), evidence that plays the recording from its
 * moment, the inspector's scoring form, one appeal, weekly trends and the admin's rubric. */
"use strict";
(() => {
  const {boot, el, clear, api, guarded, fmt, toast} = Hotline;
  const $ = (id) => document.getElementById(id);
  const me = boot.me;
  const inspector = me.role === "supervisor" || me.role === "admin";
  const STATES = {auto: "仅自动质检", queued: "待人工质检", scored: "已评分", appealed: "申诉中", final: "申诉已处理"};
  let page = 1;
  let rubric = null;

  const seconds = (s) => (s === null || s === undefined) ? "—" : `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

  async function load() {
    const f = $("q-filter");
    const q = new URLSearchParams({page: String(page), per_page: "20"});
    const state = f.elements.namedItem("state").value;
    if (state) q.set("state", state);
    if (inspector) {
      const op = f.elements.namedItem("operator").value.trim();
      if (op) q.set("operator", op);
      if (f.elements.namedItem("mine").checked) q.set("inspector", me.username);
    }
    const r = await guarded(() => api("GET", "/api/v1/quality/inspections?" + q.toString()));
    const rows = clear($("q-rows"));
    if (!r.items.length) rows.append(el("tr", {}, el("td", {colspan: "7", class: "muted", text: "没有质检记录"})));
    for (const i of r.items) {
      rows.append(el("tr", {tabindex: "0", class: "clickable", onclick: () => show(i.id),
                            onkeydown: (e) => { if (e.key === "Enter") show(i.id); }},
        el("td", {text: fmt(i.call_started_at)}), el("td", {text: i.operator || "—"}),
        el("td", {text: String(i.auto_score)}), el("td", {text: String(i.score)}),
        el("td", {text: i.failed.join("、") || "无"}), el("td", {text: STATES[i.state] || i.state}),
        el("td", {text: i.inspector || "—"})));
    }
    const pages = Math.max(1, Math.ceil(r.total / r.per_page));
    $("q-page").textContent = `第 ${r.page} / ${pages} 页，共 ${r.total} 条`;
    $("q-prev").disabled = r.page <= 1;
    $("q-next").disabled = r.page >= pages;
  }

  function evidenceCell(f) {
    const cell = el("td", {});
    if (f.note) cell.append(el("div", {class: "muted", text: f.note}));
    for (const ev of f.evidence || []) {
      if (ev.ticket) { cell.append(el("a", {href: "/console/tickets/" + encodeURIComponent(ev.ticket), text: ev.ticket})); continue; }
      const label = `${seconds(ev.start)}–${seconds(ev.end)} ${ev.text || ""}${ev.words ? "（" + ev.words.join("、") + "）" : ""}`;
      if (typeof ev.start === "number") {
        cell.append(el("button", {type: "button", class: "link", text: "▶ " + label, onclick: () => {
          const audio = $("q-audio");
          audio.currentTime = Math.max(0, ev.start - 1);
          audio.play().catch(() => toast("无法播放录音（可能已删除或无权限）", "error"));
        }}));
      } else cell.append(el("div", {text: label}));
    }
    return cell;
  }

  async function show(id) {
    const i = await guarded(() => api("GET", `/api/v1/quality/inspections/${id}`));
    $("q-detail").hidden = false;
    $("q-detail-title").textContent = `质检详情：${i.operator || ""} ${fmt(i.call_started_at)}，自动得分 ${i.auto_score}，最终得分 ${i.score}`;
    $("q-audio").src = i.recording;
    const rows = clear($("q-findings"));
    for (const f of i.findings) {
      const result = f.passed === true ? "通过" : f.passed === false ? "未通过" : "无法判断";
      rows.append(el("tr", {class: f.passed === false ? "bad" : null}, el("td", {text: f.label}),
        el("td", {text: result}), el("td", {text: f.deduction ? "-" + f.deduction : "0"}), evidenceCell(f)));
    }
    const box = clear($("q-actions"));
    if (i.comment) box.append(el("p", {text: "质检意见：" + i.comment}));
    if (i.appeal) box.append(el("p", {text: `申诉：${i.appeal.reason}` + (i.appeal.decision ?
      `；处理结果：${i.appeal.decision === "upheld" ? "申诉成立" : "申诉不成立"}${i.appeal.note ? "（" + i.appeal.note + "）" : ""}` : "（待处理）")}));
    if (inspector && ["auto", "queued", "scored"].includes(i.state)) box.append(scoreForm(i));
    if (inspector && i.state === "appealed") box.append(decisionForm(i));
    if (me.role === "operator" && !i.appeal) box.append(appealForm(i));
  }

  function scoreForm(i) {
    const form = el("form", {class: "stack", "aria-label": "人工评分"}, el("h3", {text: "人工评分"}));
    for (const item of rubric.items) {
      form.append(el("label", {text: `${item.label}（满分 ${item.max}）`},
        el("input", {type: "number", name: item.key, min: "0", max: String(item.max), step: "1", required: true,
                     value: i.item_scores && i.item_scores[item.key] !== undefined ? String(i.item_scores[item.key]) : ""})));
    }
    form.append(el("label", {text: "质检意见"}, el("textarea", {name: "comment", rows: "2", maxlength: "2000"})),
                el("button", {type: "submit", class: "primary", text: "提交评分"}));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const items = {};
      for (const item of rubric.items) items[item.key] = Number(form.elements.namedItem(item.key).value);
      await guarded(() => api("POST", `/api/v1/quality/inspections/${i.id}/score`,
                              {items, comment: form.elements.namedItem("comment").value}));
      toast("评分已保存");
      show(i.id); load(); trends();
    });
    return form;
  }

  function appealForm(i) {
    const form = el("form", {class: "stack", "aria-label": "申诉"}, el("h3", {text: "申诉（每条质检只能申诉一次）"}),
      el("label", {text: "申诉理由"}, el("textarea", {name: "reason", rows: "3", required: true, minlength: "2", maxlength: "2000"})),
      el("button", {type: "submit", class: "primary", text: "提交申诉"}));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      await guarded(() => api("POST", `/api/v1/quality/inspections/${i.id}/appeal`, {reason: form.elements.namedItem("reason").value}));
      toast("申诉已提交");
      show(i.id); load();
    });
    return form;
  }

  function decisionForm(i) {
    const form = el("form", {class: "stack", "aria-label": "处理申诉"}, el("h3", {text: "处理申诉"}),
      el("label", {}, el("input", {type: "radio", name: "decision", value: "upheld", required: true}), " 申诉成立"),
      el("label", {}, el("input", {type: "radio", name: "decision", value: "rejected"}), " 申诉不成立"),
      el("label", {text: "改正后的得分（申诉成立时必填）"}, el("input", {type: "number", name: "score", min: "0", max: "100", step: "0.1"})),
      el("label", {text: "说明"}, el("textarea", {name: "note", rows: "2", maxlength: "2000"})),
      el("button", {type: "submit", class: "primary", text: "提交"}));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = {decision: form.elements.namedItem("decision").value, note: form.elements.namedItem("note").value};
      const s = form.elements.namedItem("score").value;
      if (s !== "") body.score = Number(s);
      await guarded(() => api("POST", `/api/v1/quality/inspections/${i.id}/decision`, body));
      toast("申诉已处理");
      show(i.id); load(); trends();
    });
    return form;
  }

  async function trends() {
    const r = await guarded(() => api("GET", "/api/v1/quality/trends"));
    const rows = clear($("q-trends"));
    if (!r.items.length) rows.append(el("tr", {}, el("td", {colspan: "5", class: "muted", text: "暂无数据"})));
    const labels = Object.fromEntries((rubric.checks || []).map((c) => [c.key, c.label]));
    for (const t of r.items) {
      const failures = Object.entries(t.failures).map(([k, n]) => `${labels[k] || k} ${n}`).join("、") || "无";
      rows.append(el("tr", {}, el("td", {text: t.operator}), el("td", {text: t.week}), el("td", {text: String(t.calls)}),
                             el("td", {text: String(t.mean_score)}), el("td", {text: failures})));
    }
  }

  function fillRubric() {
    const form = $("q-rubric");
    if (!form) return;
    form.elements.namedItem("greeting_phrases").value = rubric.greeting_phrases.join("\n");
    form.elements.namedItem("forbidden_words").value = rubric.forbidden_words.join("\n");
    for (const k of ["greeting_within_seconds", "silence_seconds", "overlap_seconds", "hold_seconds", "wrapup_seconds"])
      form.elements.namedItem(k).value = String(rubric[k]);
    for (const k of ["below_score", "rate", "min_per_operator"]) form.elements.namedItem(k).value = String(rubric.sampling[k]);
    form.elements.namedItem("items").value = rubric.items.map((i) => `${i.key},${i.label},${i.max}`).join("\n");
    const box = clear($("q-deductions"));
    box.append(el("legend", {text: "各检查项扣分"}));
    for (const c of rubric.checks) {
      box.append(el("label", {text: c.label + " "}, el("input", {type: "number", name: "ded_" + c.key, min: "0", max: "100",
                                                               step: "1", value: String(rubric.deductions[c.key] || 0)})));
    }
    $("q-rubric-version").textContent = `当前版本：${rubric.version}`;
    form.onsubmit = async (e) => {
      e.preventDefault();
      const lines = (name) => form.elements.namedItem(name).value.split("\n").map((s) => s.trim()).filter(Boolean);
      const num = (name) => Number(form.elements.namedItem(name).value);
      const body = {
        greeting_phrases: lines("greeting_phrases"), forbidden_words: lines("forbidden_words"),
        greeting_within_seconds: num("greeting_within_seconds"), silence_seconds: num("silence_seconds"),
        overlap_seconds: num("overlap_seconds"), hold_seconds: num("hold_seconds"), wrapup_seconds: num("wrapup_seconds"),
        deductions: Object.fromEntries(rubric.checks.map((c) => [c.key, num("ded_" + c.key)])),
        items: lines("items").map((l) => { const [key, label, max] = l.split(","); return {key, label, max: Number(max)}; }),
        sampling: {below_score: num("below_score"), rate: num("rate"), min_per_operator: num("min_per_operator")},
      };
      rubric = await guarded(() => api("PUT", "/api/v1/quality/rubric", body));
      toast("质检规则已保存");
      fillRubric();
    };
  }

  $("q-filter").addEventListener("submit", (e) => { e.preventDefault(); page = 1; load(); });
  $("q-prev").addEventListener("click", () => { page -= 1; load(); });
  $("q-next").addEventListener("click", () => { page += 1; load(); });
  const run = $("q-run");
  if (run) {
    run.elements.namedItem("day").value = new Date(Date.now() - 86400000).toISOString().slice(0, 10);
    run.addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await guarded(() => api("POST", "/api/v1/quality/run", {day: run.elements.namedItem("day").value}));
      $("q-run-result").textContent = `新质检 ${r.inspected_now} 通；${r.day} 共 ${r.inspected} 通，抽检入队 ${r.queued} 通`;
      load();
    });
  }
  (async () => {
    rubric = await guarded(() => api("GET", "/api/v1/quality/rubric"));
    fillRubric();
    load();
    trends();
  })();
})();
