/* Working lists paged on the server: a toolbar (search, filters, sort), the total count, a pager and
 * keyboard navigation (↑/↓ or j/k move, Enter opens, / jumps to the search box). The browser never
 * sorts or filters a page itself: every change asks the server for the page it shows. */
"use strict";
const PagedList = (() => {
  const {el, clear, api, guarded, debounce} = Hotline;
  const HELP = "键盘操作：↑/↓ 或 j/k 在列表中移动，Enter 打开工单，/ 跳到搜索框，n/p 翻到下一页/上一页。";
  const TAIL = /^\d{4}$/;

  /** Search text to query parameters: four digits are the caller's phone tail, anything else words
   * of the content or a ticket number (prefix). */
  function searchParams(text) {
    const q = (text || "").trim();
    if (!q) return {};
    return TAIL.test(q) ? {phone_tail: q} : {q};
  }

  /**
   * opts: root (element), url (API path returning {items, total}), name (aria label),
   * params() -> fixed query parameters, filters: [{name, label, options: [[value, label], ...]}],
   * sorts: [[value, label], ...], perPage, render(item) -> <li>, key(item) -> string, open(item),
   * search: placeholder text (omit for no search box), empty: text for an empty list.
   */
  function create(opts) {
    const S = {page: 1, pages: 1, total: 0, items: [], active: 0, values: {}};
    const root = clear(opts.root);
    const form = el("form", {class: "list-tools row", role: "search", "aria-label": `${opts.name}筛选`});
    const search = opts.search ? el("input", {type: "search", name: "q", class: "list-search", placeholder: opts.search,
      "aria-label": `搜索${opts.name}`, maxlength: "100", autocomplete: "off"}) : null;
    if (search) form.append(search);
    const selects = (opts.filters || []).map((f) => {
      const s = el("select", {name: f.name, "aria-label": f.label},
        ...f.options.map(([v, l]) => el("option", {value: v, text: l})));
      form.append(s);
      return s;
    });
    let sortSel = null;
    if (opts.sorts && opts.sorts.length) {
      sortSel = el("select", {name: "sort", "aria-label": "排序"}, ...opts.sorts.map(([v, l]) => el("option", {value: v, text: l})));
      form.append(sortSel);
    }
    const count = el("div", {class: "list-count", role: "status", "aria-live": "polite", "data-role": "count"});
    const list = el("ul", {class: "list", tabindex: "0", role: "listbox", "aria-label": opts.name});
    const prev = el("button", {type: "button", class: "secondary", text: "上一页"});
    const next = el("button", {type: "button", class: "secondary", text: "下一页"});
    const pageInfo = el("span", {class: "muted", "data-role": "page"});
    root.append(form, count, list, el("nav", {class: "pager row", "aria-label": `${opts.name}翻页`}, prev, pageInfo, next),
      el("p", {class: "muted kbd-help", text: HELP}));

    function query() {
      const p = new URLSearchParams({...(opts.params ? opts.params() : {}), page: String(S.page), per_page: String(opts.perPage || 50)});
      for (const s of selects) if (s.value) p.set(s.name, s.value);
      if (sortSel && sortSel.value) p.set("sort", sortSel.value);
      for (const [k, v] of Object.entries(searchParams(search && search.value))) p.set(k, v);
      return p;
    }

    function highlight(focus) {
      const rows = [...list.querySelectorAll("li[data-key]")];
      rows.forEach((li, i) => { li.classList.toggle("active", i === S.active); li.setAttribute("aria-selected", String(i === S.active)); });
      const row = rows[S.active];
      if (row) { list.setAttribute("aria-activedescendant", row.id); if (focus) row.scrollIntoView({block: "nearest"}); }
    }

    async function load() {
      const r = await api("GET", `${opts.url}?${query()}`);
      S.items = r.items; S.total = r.total;
      S.pages = Math.max(1, Math.ceil(r.total / (opts.perPage || 50)));
      if (S.page > S.pages) { S.page = S.pages; return load(); }
      S.active = Math.min(S.active, Math.max(0, r.items.length - 1));
      clear(list);
      if (!r.items.length) list.append(el("li", {class: "muted", text: opts.empty || "暂无"}));
      r.items.forEach((item, i) => {
        const li = opts.render(item);
        li.dataset.key = opts.key(item);
        li.id = `${root.id || "list"}-row-${i}`;
        li.setAttribute("role", "option");
        li.addEventListener("click", (e) => { if (e.target.closest("a,button")) return; S.active = i; highlight(); opts.open(item); });
        list.append(li);
      });
      count.textContent = `共 ${r.total} 件`;
      count.dataset.total = String(r.total);
      pageInfo.textContent = `第 ${S.page} / ${S.pages} 页`;
      prev.disabled = S.page <= 1; next.disabled = S.page >= S.pages;
      highlight();
      root.dataset.loaded = String(Date.now());
      return r;
    }
    const reload = () => guarded(load);
    const reloadSoon = debounce(reload, 200);
    const restart = () => { S.page = 1; S.active = 0; reload(); };
    const go = (delta) => { const p = S.page + delta; if (p >= 1 && p <= S.pages) { S.page = p; S.active = 0; reload(); } };

    form.addEventListener("submit", (e) => { e.preventDefault(); restart(); });
    if (search) search.addEventListener("input", debounce(restart, 300));
    [...selects, sortSel].filter(Boolean).forEach((s) => s.addEventListener("change", restart));
    prev.addEventListener("click", () => go(-1));
    next.addEventListener("click", () => go(1));
    list.addEventListener("keydown", (e) => {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const n = S.items.length;
      if (e.key === "ArrowDown" || e.key === "j") { if (n) S.active = Math.min(n - 1, S.active + 1); highlight(true); }
      else if (e.key === "ArrowUp" || e.key === "k") { if (n) S.active = Math.max(0, S.active - 1); highlight(true); }
      else if (e.key === "Enter") { if (S.items[S.active]) opts.open(S.items[S.active]); }
      else if (e.key === "n") go(1);
      else if (e.key === "p") go(-1);
      else if (e.key === "/" && search) search.focus();
      else return;
      e.preventDefault();
    });
    if (search) search.addEventListener("keydown", (e) => { if (e.key === "ArrowDown") { e.preventDefault(); list.focus(); } });
    return {reload, reloadSoon, restart, list, state: S};
  }

  return {create, searchParams, HELP};
})();
