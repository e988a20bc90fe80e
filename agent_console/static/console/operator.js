/* Operator workspace: presence, screen pop, live transcript, ticket registration with routing
 * suggestion and knowledge base, own tickets, reply review and callbacks. */
"use strict";
(() => {
  const {el, clear, api, guarded, toast, fmt, statusLabel, boot, highlight, segs, debounce} = Hotline;
  const $ = (id) => document.getElementById(id);
  const me = boot.me;
  const S = {registered: {}, call: null, segments: [], partial: {}, suggestion: null, cited: null, contentTouched: false, detail: null};

  // -- presence --------------------------------------------------------------------------------
  function showState(st) {
    $("agent-state").textContent = st.label;
    document.querySelectorAll("[data-state]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.state === st.state)));
    S.state = st.state;
  }
  async function setState(state) { showState(await guarded(() => api("POST", "/api/v1/console/state", {state}))); }
  document.querySelectorAll("[data-state]").forEach((b) => b.addEventListener("click", () => setState(b.dataset.state)));

  // -- call pop-up and transcript ----------------------------------------------------------------
  const acd = !!(boot.features || {}).acd;  // the queue offers each call to one operator
  const mine = (p) => {
    const t = p.operator, x = p.extension;
    return (!t && !x && !acd) || t === me.username || (x && x === me.extension);
  };

  async function popup(call) {
    $("popup").hidden = false;
    $("popup-caller").textContent = call.caller || "未知号码";
    $("popup-called").textContent = call.called ? "呼入号码：" + call.called : "";
    $("popup-state").textContent = {ringing: "振铃中", talking: "通话中", ended: "已挂机"}[call.state] || "";
    const list = clear($("popup-history"));
    if (!$("f-phone").value && call.caller) $("f-phone").value = normalizePhone(call.caller);
    if (!call.caller) return;
    try {
      const hist = await api("GET", `/api/v1/callers/${encodeURIComponent(normalizePhone(call.caller))}/tickets`);
      if (!hist.items.length) list.append(el("li", {class: "muted", text: "无历史工单"}));
      for (const t of hist.items) {
        list.append(el("li", {},
          el("div", {class: "item-head"}, el("a", {href: "#", text: t.number, onclick: (e) => { e.preventDefault(); showDetail(t.number); }}),
            el("span", {class: "badge", text: statusLabel(t.status)}), el("span", {class: "badge", text: t.type}),
            el("span", {class: "muted", text: fmt(t.received_at)})),
          el("div", {class: "clip", text: t.content}),
          el("button", {type: "button", text: "设为重复工单", onclick: () => { $("f-merge").value = t.number; }})));
      }
    } catch (err) { list.append(el("li", {class: "muted", text: Hotline.errorText(err)})); }
  }
  function normalizePhone(p) { return String(p).replace(/^sip:/, "").replace(/@.*/, "").replace(/^\+?86(?=1\d{10}$)/, ""); }

  function renderTranscript() {
    const box = clear($("transcript"));
    for (const s of S.segments) {
      box.append(el("p", {class: "final"}, s.speaker && s.speaker !== "caller" ? el("span", {class: "speaker", text: "话务员"}) : null, s.text));
    }
    for (const [speaker, text] of Object.entries(S.partial)) {
      if (text) box.append(el("p", {class: "partial"}, speaker !== "caller" ? el("span", {class: "speaker", text: "话务员"}) : null, text));
    }
    box.scrollTop = box.scrollHeight;
    if (!S.contentTouched) $("f-content").value = callerText();
  }
  const callerText = () => S.segments.filter((s) => !s.speaker || s.speaker === "caller").map((s) => s.text).join("，");

  function adoptCall(call) {
    if (!S.call || S.call.call_id !== call.call_id) {
      S.segments = call.segments || []; S.partial = call.partial || {}; S.contentTouched = !!$("f-content").value && !S.call ? S.contentTouched : false;
    }
    S.call = call;
    $("call-info").textContent = `通话 ${call.call_id} · ${call.caller || "未知号码"} · ` +
      ({ringing: "振铃中", talking: "通话中", ended: "已挂机", missed: "未接，已转其他话务员"}[call.state] || call.state) +
      (call.info && call.info.transcription === "off" ? ` · 转写未开启：${call.info.transcription_note || ""}` : "");
    renderTranscript();
    showControls();
  }

  // -- controls on the current call (the SIP process executes them; call.command_result replies) --
  const CMD_LABELS = {hold: "保持", resume: "恢复", hangup: "挂断", transfer: "直接转接", consult: "咨询",
    complete_transfer: "完成转接", cancel_consult: "取消咨询", conference: "三方通话", emergency: "紧急转接"};
  function showControls() {
    $("call-controls").hidden = !(S.call && S.call.state === "talking" && S.call.info && S.call.info.connected);
  }
  async function sendCommand(cmd) {
    if (!S.call) return;
    const body = {};
    if (cmd === "emergency") body.target = $("emergency").value;
    else if (["transfer", "consult", "conference"].includes(cmd)) {
      body.target = $("xfer-ext").value.trim() || $("xfer-target").value;
      if (!body.target) { toast("请选择或输入转接号码", "error"); return; }
    }
    if (cmd === "hangup" && !confirm("确定挂断当前通话？")) return;
    await guarded(() => api("POST", `/api/v1/calls/${encodeURIComponent(S.call.call_id)}/commands/${cmd}`, body));
    $("cmd-result").textContent = `${CMD_LABELS[cmd]}：已发送，等待执行…`;
  }
  function onCommandResult(p) {
    if (p.operator !== me.username) return;
    const label = CMD_LABELS[p.command] || p.command;
    $("cmd-result").textContent = p.ok ? `${label}：成功${p.target ? "（" + p.target + "）" : ""}` : `${label}：${p.error || "失败"}`;
    if (!p.ok) toast(`${label}失败：${p.error || ""}`, "error");
    if (p.ok && ["transfer", "complete_transfer", "emergency"].includes(p.command) && S.call && S.call.call_id === p.call_id) {
      S.call.info = Object.assign({}, S.call.info, {connected: false});  // handed on: no longer my call
      showControls();
    }
  }
  document.querySelectorAll("[data-cmd]").forEach((b) => b.addEventListener("click", () => sendCommand(b.dataset.cmd)));
  async function loadTransferDirectory() {
    const d = await api("GET", "/api/v1/console/transfer-directory");
    const sel = $("xfer-target");
    for (const x of d.departments) sel.append(el("option", {value: x.extension, text: `${x.department} · ${x.name}（${x.extension}）`}));
    clear($("emergency")).append(...d.emergency.map((e) => el("option", {value: e.number, text: `${e.number} ${e.label}`})));
  }

  // -- abandoned and missed calls, for callback ---------------------------------------------------
  async function loadCallbacks() {
    const r = await api("GET", "/api/v1/console/callbacks");
    const list = clear($("callbacks"));
    if (!r.items.length) list.append(el("li", {class: "muted", text: "暂无需要回拨的来电"}));
    for (const c of r.items) {
      list.append(el("li", {},
        el("div", {class: "item-head"}, el("strong", {text: c.caller_phone || c.caller || "未知号码"}),
          el("span", {class: "badge", text: c.outcome_label}), el("span", {class: "muted", text: fmt(c.ringing_at)})),
        el("div", {class: "muted", text: `等待 ${Math.round(c.wait_seconds || 0)} 秒${c.ticket ? " · 留言工单 " + c.ticket : ""}`}),
        el("button", {type: "button", text: "标记已回拨", "aria-label": "标记已回拨 " + (c.caller_phone || c.caller),
          onclick: async () => {
            const note = prompt("回拨情况（可选）") || "";
            await guarded(() => api("POST", `/api/v1/console/callbacks/${encodeURIComponent(c.call_id)}`, {note}));
            toast("已标记回拨"); loadCallbacks();
          }})));
    }
  }

  function onCallEvent(name, p) {
    if (name === "call.ticket") { onDraft(p); return; }
    if (name === "call.command_result") { onCommandResult(p); return; }
    if (name === "call.intake" && p.reason === "proxy_unreachable") {
      toast("电话系统异常：无法呼叫话务员话机（SIP 代理无响应），来电已转语音留言", "error"); return;
    }
    if (acd && S.call && S.call.call_id === p.call_id && name === "call.ended") { /* the call I answered */ }
    else if (!mine(p)) return;
    if (name === "call.ringing" || name === "call.offered") {
      S.contentTouched = false; $("f-content").value = ""; $("f-phone").value = "";
      adoptCall({call_id: p.call_id, caller: p.caller, called: p.called, state: "ringing", segments: [], partial: {}, info: {}});
      popup(S.call);
      return;
    }
    if (!S.call || S.call.call_id !== p.call_id) {
      if (name === "call.answered") { adoptCall({call_id: p.call_id, caller: p.caller, state: "talking", segments: [], partial: {}, info: {}}); popup(S.call); }
      else return;
    }
    if (name === "call.answered") {
      S.call.state = "talking"; $("popup-state").textContent = "通话中";
      if (p.connected) S.call.info = Object.assign({}, S.call.info, {connected: true});
      adoptCall(S.call);
    }
    else if (name === "transcript.partial") { S.partial[p.speaker || "caller"] = p.text; renderTranscript(); }
    else if (name === "transcript.final") {
      delete S.partial[p.speaker || "caller"];
      if (p.text) S.segments.push({text: p.text, start: p.start, end: p.end, speaker: p.speaker || "caller"});
      renderTranscript();
    } else if (name === "call.ended") {
      S.call.state = "ended"; S.partial = {}; adoptCall(S.call); $("popup-state").textContent = "已挂机";
      if (!acd && (S.state === "busy" || S.state === "idle")) setState("wrapup");  // the queue does it itself
      if (acd) guarded(loadCallbacks);
    }
  }

  async function loadCalls() {
    const r = await api("GET", "/api/v1/console/calls");
    const live = r.items.filter((c) => c.state !== "ended" && (!acd || c.target));  // queued calls are nobody's yet
    const pick = live[live.length - 1] || (S.call && r.items.find((c) => c.call_id === S.call.call_id)) || null;
    if (pick) { S.segments = pick.segments; S.partial = pick.partial; adoptCall(pick); if (pick.state !== "ended") popup(pick); }
  }

  // -- form: routing suggestion, departments, towns ---------------------------------------------
  $("f-content").addEventListener("input", () => { S.contentTouched = true; });
  $("fill-transcript").addEventListener("click", () => { $("f-content").value = callerText(); S.contentTouched = true; });
  $("popup-close").addEventListener("click", () => { $("popup").hidden = true; });

  function evidencePhrases(dept) {
    return (dept.evidence || []).map((e) => typeof e === "string" ? e : (e.phrase || e.text || "")).filter(Boolean);
  }

  async function suggest() {
    const text = $("f-content").value.trim();
    if (!text) { toast("请先填写诉求内容", "error"); return; }
    const r = await guarded(() => api("POST", "/api/v1/routing/suggest", {text, town: $("f-town").value || null}));
    S.suggestion = r;
    const list = clear($("suggestions"));
    (r.departments || []).forEach((d, i) => {
      list.append(el("li", {},
        el("label", {}, el("input", {type: "radio", name: "pick-dept", value: d.code, checked: i === 0,
          onchange: () => pick(d)}),
          `${d.name}（${Math.round((d.score || 0) * 100)}%）`),
        el("button", {type: "button", text: "加为协办", "aria-label": "加为协办 " + d.name, onclick: () => {
          for (const o of $("f-co").options) if (o.value === d.code) o.selected = true; }})));
    });
    if (!(r.departments || []).length) list.append(el("li", {class: "muted", text: "没有把握的建议，请人工选择"}));
    if (r.type) $("f-type").value = r.type;
    if (r.urgent || r.emergency) $("f-urgency").value = "urgent";
    if (r.town && !$("f-town").value) $("f-town").value = r.town;
    if (r.emergency) {
      toast(`注意：疑似紧急情况（${(r.emergency.evidence || []).join("、")}），请即转 ${r.emergency.number || "110/119/120"}`, "error");
    }
    if ((r.departments || [])[0]) pick(r.departments[0]);
  }
  /** Take a suggested unit as main unit, with the co-units the catalogue names for that matter. */
  function pick(d) {
    $("f-main").value = d.code;
    const co = new Set(d.co_units || []);
    for (const o of $("f-co").options) o.selected = co.has(o.value) && o.value !== d.code;
    showEvidence(d);
  }
  function showEvidence(d) {
    const box = clear($("evidence"));
    const extra = [...((S.suggestion && S.suggestion.urgent_evidence) || []), ...(((S.suggestion || {}).emergency || {}).evidence || [])];
    box.append(el("span", {class: "muted", text: `依据（${d.name}）：`}), highlight($("f-content").value, evidencePhrases(d).concat(extra)));
  }
  $("suggest").addEventListener("click", suggest);

  async function loadDirectory() {
    const [depts, towns] = await Promise.all([Case.loadDepartments(), api("GET", "/api/v1/towns")]);
    for (const d of depts) { $("f-main").append(el("option", {value: d.code, text: d.name})); $("f-co").append(el("option", {value: d.code, text: d.name})); }
    for (const t of towns) $("f-town").append(el("option", {value: t.code, text: t.name}));
  }

  // -- registering ------------------------------------------------------------------------------
  function ticketBody() {
    const v = (id) => $(id).value.trim();
    const body = {type: v("f-type"), urgency: v("f-urgency"), channel: "phone", content: v("f-content"),
                  caller: {name: v("f-name") || null, phone: v("f-phone") || null}};
    if (v("f-address")) body.address = v("f-address");
    if (v("f-town")) body.town = v("f-town");
    if (S.suggestion) body.routing_suggestion = S.suggestion;
    return body;
  }

  /** Register from the form: ONE request. The server creates the ticket, links the call and takes
   * the chosen step in one transaction; if the citizen already hung up and the call's draft exists,
   * the server completes that draft instead, and a hang-up after registration adopts this ticket.
   * Nothing is arbitrated or merged here, so closing the tab at any moment leaves one ticket. */
  async function register(then) {
    const body = ticketBody();
    if (!body.content) { toast("请填写诉求内容", "error"); $("f-content").focus(); return; }
    const call = S.call && !S.registered[S.call.call_id] ? S.call.call_id : null;
    if (call) body.call_id = call;
    if (then) body.then = Object.assign({action: then}, thenBody(then));
    const cur = await guarded(() => api("POST", "/api/v1/console/register", body));
    if (call) S.registered[call] = cur.number;
    clear($("result")).append(el("p", {}, `工单 ${cur.number} · ${statusLabel(cur.status)} `,
      el("a", {href: `/console/tickets/${cur.number}`, text: "查看"})));
    toast(`工单 ${cur.number} ${statusLabel(cur.status)}`);
    resetForm();
    loadMine();
    return cur;
  }

  /** call.ticket: the call's ticket is on record (its draft after hang-up, or the one registered here). */
  function onDraft(p) {
    if (S.registered[p.call_id] || !S.call || S.call.call_id !== p.call_id) return;
    S.call.ticket = p.number;
    $("call-info").textContent += ` · 草稿工单 ${p.number}`;
    toast(`通话已生成草稿工单 ${p.number}，请补全后派单`);
  }

  function thenBody(action) {
    const note = $("f-note").value.trim() || null;
    if (action === "dispatch") {
      return {main_department: $("f-main").value, note,
              co_departments: [...$("f-co").selectedOptions].map((o) => o.value).filter((c) => c !== $("f-main").value)};
    }
    if (action === "answer_directly") {
      return {article_id: S.cited ? S.cited.id : null, note,
              answer: note || (S.cited ? `已按知识库《${S.cited.title}》答复来电人` : null)};
    }
    if (action === "merge") return {into: $("f-merge").value.trim(), note};
    if (action === "invalidate") return {note: note || "无效来电"};
    return {note};
  }
  $("do-dispatch").addEventListener("click", () => {
    if (!$("f-main").value) { toast("请选择主办单位", "error"); return; }
    register("dispatch");
  });
  $("do-answer").addEventListener("click", () => {
    if (!S.cited && !$("f-note").value.trim()) { toast("请引用知识库条目或在处理意见中填写答复", "error"); return; }
    register("answer_directly");
  });
  $("do-save").addEventListener("click", () => register(null));
  $("do-merge").addEventListener("click", () => {
    if (!$("f-merge").value.trim()) { toast("请填写重复工单编号", "error"); return; }
    register("merge");
  });
  $("do-invalid").addEventListener("click", () => register("invalidate"));
  $("do-reset").addEventListener("click", resetForm);
  function resetForm() {
    $("ticket-form").reset(); S.suggestion = null; S.cited = null; S.contentTouched = true;
    $("cited").textContent = "未引用"; clear($("suggestions")); clear($("evidence"));
  }

  // -- knowledge base ----------------------------------------------------------------------------
  $("kb-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = e.target.q.value.trim();
    const r = await guarded(() => api("GET", "/api/v1/knowledge?q=" + encodeURIComponent(q)));
    const list = clear($("kb-results"));
    if (!r.items.length) list.append(el("li", {class: "muted", text: "没有找到相关知识"}));
    for (const a of r.items) {
      list.append(el("li", {class: "kb-item"},
        el("div", {class: "item-head"}, el("strong", {}, segs(a.title_segments)),
          ...a.tags.map((t) => el("span", {class: "badge"}, (a.tag_hits || []).includes(t) ? el("mark", {text: t}) : t))),
        el("div", {class: "muted"}, segs(a.snippet_segments)),
        el("div", {class: "row"},
          el("button", {type: "button", text: "查看全文", onclick: () => showArticle(a.id)}),
          el("button", {type: "button", text: "引用", "aria-label": "引用 " + a.title, onclick: () => cite(a)}))));
    }
  });
  async function showArticle(id) {
    const a = await guarded(() => api("GET", "/api/v1/knowledge/" + id));
    clear($("kb-article")).append(el("h3", {text: a.title}), el("div", {text: a.body}),
      el("p", {class: "muted", text: `${a.department ? a.department.name + " · " : ""}有效期 ${a.valid_from || "—"} 至 ${a.valid_to || "长期"}`}));
  }
  function cite(a) {
    S.cited = {id: a.id, title: a.title};
    $("cited").textContent = `《${a.title}》(#${a.id})`;
    toast(`已引用：${a.title}`);
  }

  // -- my tickets, review and callback queue ----------------------------------------------------
  function ticketItem(t) {
    return el("li", {class: t.number === S.detail ? "selected" : null, "data-number": t.number},
      el("div", {class: "item-head"},
        el("a", {href: "#", text: t.number, onclick: (e) => { e.preventDefault(); showDetail(t.number); }}),
        el("span", {class: "badge", text: statusLabel(t.status)}), el("span", {class: "badge", text: t.type}),
        Hotline.deadlineBadge(t)),
      el("div", {class: "clip", text: t.content}));
  }
  const myTickets = PagedList.create({
    root: $("mine"), url: "/api/v1/console/my-tickets", name: "我的工单", perPage: 25,
    search: "工单号、内容关键词、来电号码或号码后4位",
    filters: [{name: "status", label: "工单状态", options: [["", "全部状态"],
      ...Object.entries(Hotline.boot.labels.status).map(([v, l]) => [v, l])]},
      {name: "deadline", label: "时限状态", options: [["", "全部时限"], ["overdue", "已超期"], ["near", "临期"], ["ok", "正常"]]}],
    sorts: [["-created", "最新登记"], ["urgency", "最紧急优先"], ["received", "最早收到"]],
    empty: "暂无工单", key: (t) => t.number, render: ticketItem, open: (t) => showDetail(t.number),
  });
  const loadMine = () => myTickets.reload();
  const review = PagedList.create({
    root: $("review"), url: "/api/v1/tickets", name: "待审核与待回访", perPage: 25,
    params: () => ({status: "replied,callback"}), search: "工单号、内容关键词，或来电号码后4位",
    filters: [{name: "status", label: "审核状态", options: [["", "全部"], ["replied", "待审核"], ["callback", "待回访"]]}],
    sorts: [["received", "最早收到"], ["-received", "最新收到"], ["urgency", "最紧急优先"]],
    empty: "暂无待审核或待回访工单", key: (t) => t.number, render: ticketItem, open: (t) => showDetail(t.number),
  });
  const loadReview = () => review.reload();
  /** How long a web submission has waited, from its received time (the server's clock is in the ISO
   * string; a few seconds of skew do not matter at minute resolution). */
  function waited(iso) {
    const minutes = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));
    if (minutes < 60) return `已等待 ${minutes} 分钟`;
    const hours = Math.floor(minutes / 60);
    return hours < 48 ? `已等待 ${hours} 小时 ${minutes % 60} 分钟` : `已等待 ${Math.floor(hours / 24)} 天`;
  }
  const webQueue = PagedList.create({
    root: $("web-queue"), url: "/api/v1/tickets", name: "网上来件", perPage: 25,
    params: () => ({channel: "web", status: "draft"}), search: "工单号、内容关键词，或手机号后4位",
    sorts: [["received", "最早收到"], ["-received", "最新收到"]],
    empty: "暂无待受理的网上来件", key: (t) => t.number, open: (t) => showDetail(t.number),
    render: (t) => {
      const li = ticketItem(t);
      li.querySelector(".item-head").append(el("span", {class: "badge waited", "data-received": t.received_at,
                                                         text: waited(t.received_at)}));
      return li;
    },
  });
  const loadWeb = () => webQueue.reload();
  document.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll("[data-tab]").forEach((x) => x.setAttribute("aria-selected", String(x === b)));
    document.querySelectorAll("[data-pane]").forEach((p) => { p.hidden = p.dataset.pane !== b.dataset.tab; });
  }));
  async function showDetail(number) {
    S.detail = number;
    await guarded(() => Case.open($("detail"), number, {onChanged: () => { showDetail(number); refreshLists(); }}));
  }
  const refreshLists = debounce(() => {
    loadMine().catch(() => {}); loadReview().catch(() => {}); loadWeb().catch(() => {});
  }, 250);

  // -- live -------------------------------------------------------------------------------------
  async function refresh() {
    await Promise.all([
      api("GET", "/api/v1/console/state").then(showState),
      loadCalls(), loadMine(), loadReview(), loadWeb(), loadCallbacks(),
      S.detail ? showDetail(S.detail) : null,
    ].map((p) => Promise.resolve(p).catch((e) => console.error(e))));
  }
  Hotline.live((name, p) => {
    if (name.startsWith("call.") || name.startsWith("transcript.")) onCallEvent(name, p);
    else if (name === "agent.state") {
      showState({state: p.state, label: p.label});
      const why = {no_answer: "来电未接听，已自动置为示忙", busy: "话机占线，已自动置为示忙", unregistered: "话机未注册，已置为离线"}[p.reason];
      if (p.by === "system" && why) {
        toast(why, "error");
        if (S.call && S.call.state === "ringing") {  // the queue took the offer back: it rings someone else
          S.call.state = "missed"; adoptCall(S.call); $("popup").hidden = true;
        }
      }
    }
    else if (name === "ticket.changed" || name === "ticket.created") {
      refreshLists();
      if (S.detail === p.number) showDetail(p.number);
    }
  }, refresh);
  loadDirectory().catch((e) => toast(Hotline.errorText(e), "error"));
  loadTransferDirectory().catch((e) => toast(Hotline.errorText(e), "error"));
})();
