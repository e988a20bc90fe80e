/* The case view: everything about one ticket plus the actions the viewer may take on it.
 * Used by the standalone case page and as the detail panel of every console. */
"use strict";
const Case = (() => {
  const {el, clear, api, guarded, toast, fmt, statusLabel, actionLabel, boot} = Hotline;
  let departments = null;

  async function loadDepartments() {
    if (!departments) departments = await api("GET", "/api/v1/departments");
    return departments;
  }

  function deptSelect(name, label, selected, allowEmpty) {
    const sel = el("select", {name, "aria-label": label});
    if (allowEmpty) sel.append(el("option", {value: "", text: "（无）"}));
    for (const d of departments || []) sel.append(el("option", {value: d.code, text: d.name, selected: d.code === selected}));
    return sel;
  }

  /** Fields each action needs; actions without required input run on one click. */
  const FORMS = {
    return: [["note", "退回原因", "textarea", true]],
    request_extension: [["workdays", "延期工作日", "number", true], ["reason", "延期理由", "textarea", true]],
    reply: [["text", "答复内容", "textarea", true], ["attachments", "附件", "file", false]],
    reject_reply: [["note", "审核退回原因", "textarea", true]],
    callback: [["satisfaction", "满意度", "satisfaction", true], ["solved", "问题是否解决", "yesno", true],
               ["note", "回访记录", "textarea", false]],
    close: [["note", "办结说明", "textarea", true]],
    reopen: [["note", "重办原因", "textarea", true]],
    merge: [["into", "并入工单编号", "text", true], ["note", "并单说明", "textarea", false]],
    invalidate: [["note", "无效原因", "textarea", true]],
    urge: [["note", "督办意见", "textarea", true]],
    note: [["note", "备注内容", "textarea", true]],
    dispatch: [["main_department", "主办单位", "dept", true], ["co_departments", "协办单位", "depts", false],
               ["note", "派单意见", "textarea", false]],
    reassign: [["main_department", "改派主办单位", "dept", true], ["co_departments", "协办单位", "depts", false],
               ["note", "改派说明", "textarea", false]],
    answer_directly: [["answer", "答复内容", "textarea", true]],
    approve_extension: [["note", "审批意见", "textarea", false]],
    deny_extension: [["note", "驳回意见", "textarea", false]],
  };
  const ONE_CLICK = new Set(["sign", "accept", "approve_reply"]);

  function field(spec, ticket) {
    const [name, label, kind] = spec;
    if (kind === "textarea") return el("label", {class: "block"}, label, el("textarea", {name, rows: 3, "aria-label": label}));
    if (kind === "number") return el("label", {}, label, el("input", {name, type: "number", min: 1, max: 30, value: 5, "aria-label": label}));
    if (kind === "text") return el("label", {}, label, el("input", {name, type: "text", "aria-label": label}));
    if (kind === "checkbox") return el("label", {}, el("input", {name, type: "checkbox"}), label);
    if (kind === "file") return el("label", {}, label, el("input", {name, type: "file", multiple: true, "aria-label": label}));
    if (kind === "yesno") {
      return el("fieldset", {class: "row"}, el("legend", {text: label}),
        el("label", {}, el("input", {type: "radio", name, value: "true"}), "已解决"),
        el("label", {}, el("input", {type: "radio", name, value: "false"}), "未解决"));
    }
    if (kind === "satisfaction") {
      return el("fieldset", {class: "row"}, el("legend", {text: label}),
        ...["满意", "基本满意", "不满意"].map((v) => el("label", {}, el("input", {type: "radio", name, value: v}), v)));
    }
    if (kind === "dept") return el("label", {}, label, deptSelect(name, label, ticket.main_department && ticket.main_department.code));
    if (kind === "depts") {
      const sel = deptSelect(name, label, null);
      sel.multiple = true; sel.size = 4;
      return el("label", {}, label, sel);
    }
    return null;
  }

  async function collect(action, form) {
    const body = {};
    for (const [name, , kind] of FORMS[action] || []) {
      if (kind === "file") {
        const files = form.querySelector(`[name="${name}"]`).files;
        body.attachments = [];
        for (const f of files) {
          const fd = new FormData(); fd.append("file", f);
          body.attachments.push(await api("POST", "/api/v1/console/attachments", fd, true));
        }
      } else if (kind === "yesno") {
        const c = form.querySelector(`[name="${name}"]:checked`);
        if (c) body[name] = c.value === "true";
      } else if (kind === "satisfaction") {
        const c = form.querySelector(`[name="${name}"]:checked`);
        if (c) body[name] = c.value;
      } else if (kind === "checkbox") { if (form.querySelector(`[name="${name}"]`).checked) body[name] = true; }
      else if (kind === "number") body[name] = parseInt(form.querySelector(`[name="${name}"]`).value, 10);
      else if (kind === "depts") body[name] = [...form.querySelector(`[name="${name}"]`).selectedOptions].map((o) => o.value).filter(Boolean);
      else {
        const v = form.querySelector(`[name="${name}"]`).value.trim();
        if (v) body[name] = v;
      }
    }
    return body;
  }

  /** 督办 and 回访 go through supervision's endpoints when that package is installed (they announce
   * the urging to the unit and reopen on 不满意); everything else is the ticket API's action. */
  async function perform(ticket, action, body) {
    const n = encodeURIComponent(ticket.number);
    const direct = (a, b) => api("POST", `/api/v1/tickets/${n}/actions/${a}`, b || {});
    const supervision = (boot.features || {}).supervision;
    if (action === "urge" && supervision) return api("POST", "/api/v1/supervision/urgings", {number: ticket.number, ...body});
    if (action === "callback") {
      if (supervision) return api("POST", `/api/v1/supervision/callbacks/${n}`, body);
      const t = await direct("callback", body);
      return body.satisfaction === "不满意" ? direct("reopen", {note: "回访不满意，重办：" + (body.note || "")}) : t;
    }
    return direct(action, body);
  }

  async function acknowledge(urging) {
    return api("POST", `/api/v1/urgings/${urging.id}/acknowledge`, {});
  }

  function actionBar(ticket, holder, onChanged) {
    const opts = {onChanged};
    const bar = el("div", {class: "actions", role: "group", "aria-label": "工单操作"});
    const formBox = el("div");
    const me = boot.me;
    const coUnit = me.role === "department" && me.department &&
      (!ticket.main_department || ticket.main_department.code !== me.department.code);
    const MAIN_ONLY = new Set(["sign", "return", "request_extension", "reply"]);
    for (const action of ticket.allowed_actions.filter((a) => !(coUnit && MAIN_ONLY.has(a)))) {
      const label = actionLabel(action);
      bar.append(el("button", {type: "button", class: action === "urge" || action === "return" ? "danger" : null,
        "data-action": action, onclick: async () => {
          if (ONE_CLICK.has(action)) {
            const t = await guarded(() => perform(ticket, action, {}));
            toast(`${label}成功：${ticket.number}`);
            onChanged && onChanged(t);
            return;
          }
          if (["dispatch", "reassign"].includes(action)) await loadDepartments();
          clear(formBox);
          const form = el("form", {class: "action-form", "aria-label": label + "表单"},
            el("h3", {text: label}), ...(FORMS[action] || []).map((s) => field(s, ticket)),
            el("div", {class: "row"},
              el("button", {type: "submit", class: "primary", text: "确认" + label}),
              el("button", {type: "button", text: "取消", onclick: () => {
                clear(formBox);
                const panel = holder.parentNode;
                if (panel && panel.dataset.stale && opts.onChanged) opts.onChanged(ticket);
              }})));
          form.addEventListener("submit", async (ev) => {
            ev.preventDefault();
            const body = await guarded(() => collect(action, form));
            const t = await guarded(() => perform(ticket, action, body));
            toast(`${label}成功：${ticket.number}`);
            clear(formBox);
            onChanged && onChanged(t);
          });
          formBox.append(form);
          const first = form.querySelector("textarea, input, select");
          if (first) first.focus();
        }}, label));
    }
    if (me.role === "department" && !FINAL.has(ticket.status)) bar.append(contactButton(ticket));
    holder.append(bar, formBox);
  }

  /** 联系诉求人: the hotline rings the clerk's own extension, then the citizen, and bridges them;
   * the citizen's number never reaches this page. Progress arrives as contact.progress frames. */
  const FINAL = new Set(["closed", "merged", "invalid"]);
  function contactButton(ticket) {
    const secret = ticket.caller && ticket.caller.confidential;
    return el("button", {type: "button", "data-action": "contact", disabled: secret ? "" : null,
      title: secret ? "诉求人要求保密，不能联系" : "先呼叫您的分机，接听后由热线接通诉求人（不显示号码）",
      onclick: async () => {
        const r = await guarded(() => api("POST", `/api/v1/tickets/${encodeURIComponent(ticket.number)}/contact`, {}));
        toast(`正在呼叫您的分机 ${r.extension}，接听后为您接通诉求人（今日第 ${r.used_today}/${r.daily_limit} 次）`);
      }}, "联系诉求人");
  }

  const CONTACT_STATES = {calling_clerk: "正在呼叫您的分机…", calling_citizen: "正在呼叫诉求人…", talking: "已接通诉求人"};
  /** A toast for each contact.progress frame (the department page and the case page call it). */
  function contactProgress(p) {
    if (p.state === "ended") toast(`联系诉求人（工单 ${p.number}）：${p.outcome_label}` +
      (p.duration ? `，通话 ${Math.round(p.duration)} 秒` : ""), p.outcome === "answered" ? null : "error");
    else toast(`联系诉求人（工单 ${p.number}）：${CONTACT_STATES[p.state] || p.state}`);
  }

  function attachmentLinks(list) {
    return el("span", {}, ...(list || []).map((a) =>
      el("a", {href: `/api/v1/console/attachments/${encodeURIComponent(a.id)}`, class: "badge", text: "📎 " + a.name})));
  }

  const SPEAKERS = {caller: "市民", operator: "话务员", department: "承办单位", emergency: "应急联动单位", mixed: "混音"};

  /** One player per recording of a call (市民, 话务员, 承办单位..., 混音), labelled by speaker. */
  function recordingPlayers(c) {
    const list = (c.recordings && c.recordings.length) ? c.recordings
      : (c.recording ? [{leg: "caller", speaker: "caller", label: "市民", url: c.recording.url}] : []);
    if (!list.length) {
      return el("p", {class: "muted", text: c.recording_deleted_at ? "录音已按保存期限删除" : "无录音"});
    }
    return el("div", {class: "recordings", "aria-label": "通话录音"}, ...list.map((r) => {
      const label = r.label || SPEAKERS[r.speaker] || r.leg;
      return el("div", {class: "row recording", "data-leg": r.leg},
        el("span", {class: "speaker", text: label + (r.extension ? ` (${r.extension})` : "")}),
        el("audio", {controls: true, preload: "none", src: r.url, "aria-label": `${label}录音`}));
    }));
  }

  /** Calls of the ticket (telephony's records: recording + transcript), including calls linked
   * by the console to a ticket registered during the call. Filled in asynchronously. */
  function callsSection(ticket) {
    const box = el("section", {"aria-label": "通话记录"}, el("h3", {text: "通话与录音"}));
    const body = el("div", {}, el("p", {class: "muted", text: "加载中…"}));
    box.append(body);
    const linked = (ticket.events || []).filter((e) => e.action === "call_linked").map((e) => e.data || {});
    (async () => {
      let calls = [];
      try { calls = (await api("GET", `/api/v1/tickets/${encodeURIComponent(ticket.number)}/calls`)).items; }
      catch (e) { calls = []; }
      const known = new Set(calls.map((c) => c.call_id));
      for (const d of linked) {
        if (!d.call_id || known.has(d.call_id)) continue;
        known.add(d.call_id);
        try { calls.push(await api("GET", `/api/v1/calls/${encodeURIComponent(d.call_id)}`)); }
        catch (e) { calls.push({call_id: d.call_id, caller: d.caller, transcript: d.transcript || [], recording: null}); }
      }
      clear(body);
      if (!calls.length) { body.append(el("p", {class: "muted", text: "无关联通话"})); return; }
      for (const c of calls) {
        const item = el("div", {class: "call"},
          el("div", {class: "row"}, el("span", {text: c.direction === "outbound" ? "联系诉求人（热线外呼）" : `通话 ${c.caller || ""}`}),
            el("span", {class: "muted", text: fmt(c.answered_at || c.ringing_at)}),
            c.duration != null ? el("span", {class: "muted", text: `时长 ${Math.round(c.duration)} 秒`}) : null,
            c.transcription && c.transcription.status === "off" ? el("span", {class: "muted", text: "转写未开启：" + (c.transcription.note || "")}) : null),
          recordingPlayers(c));
        const tr = c.transcript || [];
        if (tr.length) {
          item.append(el("div", {class: "transcript", "aria-label": "通话转写"}, ...tr.map((s) =>
            el("p", {}, el("span", {class: "speaker", text: SPEAKERS[s.speaker] || "来电人"}), s.text))));
        }
        body.append(item);
      }
    })();
    return box;
  }

  function render(container, ticket, opts) {
    opts = opts || {};
    clear(container);
    const c = ticket.caller || {};
    const root = el("article", {class: "case", "aria-label": "工单 " + ticket.number});
    root.append(el("div", {class: "item-head"},
      el("h2", {text: "工单 " + ticket.number}),
      el("span", {class: "badge", text: statusLabel(ticket.status)}),
      el("span", {class: "badge", text: ticket.type}),
      ticket.urgency === "urgent" ? el("span", {class: "badge urgent", text: "紧急"}) : null,
      Hotline.deadlineBadge(ticket),
      (ticket.urgings || []).length ? el("span", {class: "badge urged", text: "督办"}) : null,
      opts.standalone ? null : el("a", {href: `/console/tickets/${encodeURIComponent(ticket.number)}`, text: "完整视图"})));
    actionBar(ticket, root, opts.onChanged);
    const dl = el("dl");
    const row = (k, v) => dl.append(el("dt", {text: k}), el("dd", {}, v == null || v === "" ? "—" : v));
    row("诉求内容", ticket.content);
    row("来电人", c.confidential && !c.phone ? "（保密）" : `${c.name || "匿名"} ${c.phone || ""}`);
    row("地址", [ticket.town && ticket.town.name, ticket.address].filter(Boolean).join(" "));
    row("主办单位", ticket.main_department ? ticket.main_department.name : null);
    row("协办单位", (ticket.co_departments || []).map((d) => d.name).join("、"));
    row("受理时间", fmt(ticket.received_at));
    row("签收时限", fmt(ticket.deadlines.sign_by));
    row("办结时限", fmt(ticket.deadlines.reply_by));
    if (ticket.deadlines.warning) row("时限提示", ticket.deadlines.warning);
    if (ticket.reply) row("答复", ticket.reply);
    if (ticket.direct_answer) row("直接办结", `${ticket.direct_answer.answer || ""}${ticket.direct_answer.article_id ? "（知识库 #" + ticket.direct_answer.article_id + "）" : ""}`);
    if (ticket.satisfaction) row("回访结果", `${ticket.satisfaction}${ticket.solved === true ? "，已解决" : ticket.solved === false ? "，未解决" : ""}`);
    if (ticket.merged_into) row("已并入", ticket.merged_into);
    if (ticket.reopen_count) row("重办次数", String(ticket.reopen_count));
    root.append(dl);
    if ((ticket.extensions || []).length) {
      root.append(el("h3", {text: "延期申请"}), el("ul", {class: "list"}, ...ticket.extensions.map((x) =>
        el("li", {}, `${x.workdays} 个工作日 · ${x.reason} · `,
          el("strong", {text: {pending: "待审批", approved: "已批准", denied: "已驳回"}[x.status] || x.status}),
          x.decision_note ? ` · ${x.decision_note}` : ""))));
    }
    if ((ticket.urgings || []).length) {
      root.append(el("h3", {text: "督办"}), el("ul", {class: "list"}, ...ticket.urgings.map((u) =>
        el("li", {}, `${fmt(u.urged_at)} ${u.urged_by}：${u.note}`, u.acknowledged_at ? `（已签收 ${fmt(u.acknowledged_at)}）` : "（未签收）",
          !u.acknowledged_at && boot.me.role === "department" ? el("button", {type: "button", text: "督办签收", onclick: async () => {
            await guarded(() => acknowledge(u));
            toast(`督办签收成功：${ticket.number}`);
            opts.onChanged && opts.onChanged(ticket);
          }}) : null))));
    }
    if (ticket.events) {
      root.append(callsSection(ticket));
      root.append(el("h3", {text: "处理过程"}), el("ol", {class: "timeline", "aria-label": "事件时间线"},
        ...ticket.events.map((e) => el("li", {},
          el("span", {class: "muted", text: fmt(e.at) + " "}), el("strong", {text: e.action_label}),
          ` · ${e.actor}`, e.from_status && e.to_status && e.from_status !== e.to_status ? ` · ${statusLabel(e.from_status)}→${statusLabel(e.to_status)}` : "",
          e.note ? el("div", {class: "pre", text: e.note}) : null,
          e.data && e.data.text ? el("div", {class: "pre", text: e.data.text}) : null,
          e.data && e.data.attachments ? attachmentLinks(e.data.attachments) : null))));
    }
    container.append(root);
  }

  /** Load and show a ticket. A live refresh never wipes a form the user is filling in: the
   * panel is marked stale and redrawn when the form is submitted or cancelled. */
  async function open(container, number, opts) {
    opts = opts || {};
    const t = await api("GET", `/api/v1/tickets/${encodeURIComponent(number)}`);
    const editing = container.querySelector(".action-form");
    if (editing && !opts.force && container.dataset.number === number) {
      container.dataset.stale = "1";
      return t;
    }
    container.dataset.number = number;
    delete container.dataset.stale;
    render(container, t, opts);
    return t;
  }

  return {render, open, perform, loadDepartments, deptSelect, contactProgress};
})();
