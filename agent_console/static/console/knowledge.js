/* Knowledge base page: search with highlighted hits for everyone; editing for supervisors/admins. */
"use strict";
(() => {
  const {el, clear, api, guarded, toast, segs, boot} = Hotline;
  const $ = (id) => document.getElementById(id);

  async function search() {
    const f = $("kb-form");
    const all = f.all && f.all.checked ? "&include_invalid=1" : "";
    const r = await guarded(() => api("GET", "/api/v1/knowledge?q=" + encodeURIComponent(f.q.value.trim()) + all));
    const list = clear($("kb-results"));
    if (!r.items.length) list.append(el("li", {class: "muted", text: "没有找到相关知识"}));
    for (const a of r.items) {
      list.append(el("li", {},
        el("div", {class: "item-head"}, el("a", {href: "#", onclick: (e) => { e.preventDefault(); show(a.id); }}, segs(a.title_segments)),
          ...a.tags.map((t) => el("span", {class: "badge"}, (a.tag_hits || []).includes(t) ? el("mark", {text: t}) : t)),
          a.active ? null : el("span", {class: "badge", text: "停用"})),
        el("div", {class: "muted"}, segs(a.snippet_segments))));
    }
  }
  $("kb-form").addEventListener("submit", (e) => { e.preventDefault(); search(); });

  async function show(id) {
    const a = await guarded(() => api("GET", "/api/v1/knowledge/" + id));
    const box = clear($("kb-detail"));
    box.append(el("h2", {text: a.title}), el("div", {class: "pre", text: a.body}),
      el("p", {class: "muted", text: `${a.department ? a.department.name + " · " : ""}标签：${a.tags.join("、") || "—"} · 有效期 ${a.valid_from || "—"} 至 ${a.valid_to || "长期"} · 版本 ${a.version}`}));
    if (boot.editor) box.append(el("button", {type: "button", text: "编辑条目", onclick: () => edit(a)}));
  }

  async function edit(a) {
    const depts = await Case.loadDepartments();
    const box = clear($("kb-detail"));
    const form = el("form", {class: "form-grid", "aria-label": a ? "编辑知识" : "新建知识"},
      el("label", {for: "k-title", text: "标题"}), el("input", {id: "k-title", name: "title", value: a ? a.title : "", required: true, maxlength: 200}),
      el("label", {for: "k-tags", text: "标签"}), el("input", {id: "k-tags", name: "tags", value: a ? a.tags.join("，") : "", placeholder: "用逗号分隔"}),
      el("label", {for: "k-dept", text: "所属单位"}), Case.deptSelect("department", "所属单位", a && a.department ? a.department.code : null, true),
      el("label", {for: "k-from", text: "生效日期"}), el("input", {id: "k-from", name: "valid_from", type: "date", value: a ? a.valid_from || "" : ""}),
      el("label", {for: "k-to", text: "失效日期"}), el("input", {id: "k-to", name: "valid_to", type: "date", value: a ? a.valid_to || "" : ""}),
      el("label", {for: "k-body", text: "正文"}), el("textarea", {id: "k-body", name: "body", rows: 12, required: true}),
      el("span"), el("div", {class: "row"}, el("button", {type: "submit", class: "primary", text: "保存知识"})));
    const F = form.elements;
    F.namedItem("body").value = a ? a.body : "";
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const v = (n) => F.namedItem(n).value.trim();
      const body = {title: v("title"), body: v("body"),
        tags: v("tags").split(/[,，、\s]+/).map((t) => t.trim()).filter(Boolean),
        department: v("department") || null, valid_from: v("valid_from") || null, valid_to: v("valid_to") || null};
      if (a) body.version = a.version;
      const saved = await guarded(() => a ? api("PATCH", "/api/v1/knowledge/" + a.id, body) : api("POST", "/api/v1/knowledge", body));
      toast("已保存：" + saved.title);
      show(saved.id);
    });
    box.append(el("h2", {text: a ? "编辑知识" : "新建知识"}), form);
  }
  if ($("kb-new")) $("kb-new").addEventListener("click", () => edit(null));
  Hotline.live(() => {}, null);
  search();
})();
