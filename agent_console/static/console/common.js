/* Shared console helpers. Every piece of data reaches the page through textContent (el()), never
 * innerHTML, so ticket content such as <img src=x onerror=...> is shown as text. */
"use strict";
const Hotline = (() => {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  /** Text split into hit / plain segments, hits wrapped in <mark>. */
  function segs(segments, cls) {
    const span = el("span", {class: cls || null});
    for (const s of segments || []) span.append(s.hit ? el("mark", {text: s.text}) : document.createTextNode(s.text));
    return span;
  }

  /** Highlight every occurrence of the given phrases inside text (no HTML involved). */
  function highlight(text, phrases) {
    text = text || "";
    const marks = new Array(text.length).fill(false);
    for (const p of (phrases || []).filter(Boolean).sort((a, b) => b.length - a.length)) {
      let i = text.indexOf(p);
      while (i !== -1) { for (let j = i; j < i + p.length; j++) marks[j] = true; i = text.indexOf(p, i + p.length); }
    }
    const out = [];
    for (let i = 0; i < text.length; i++) {
      if (out.length && out[out.length - 1].hit === marks[i]) out[out.length - 1].text += text[i];
      else out.push({text: text[i], hit: marks[i]});
    }
    return segs(out);
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || ("HTTP " + status));
      this.status = status; this.body = body;
      this.fields = (body && body.error && body.error.fields) || {};
    }
  }

  async function api(method, url, body, isForm) {
    const opts = {method, headers: {"Accept": "application/json"}, credentials: "same-origin"};
    if (method !== "GET") opts.headers["X-CSRFToken"] = csrf;
    if (body !== undefined) {
      if (isForm) opts.body = body;
      else { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    }
    const r = await fetch(url, opts);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) throw new ApiError(r.status, data);
    return data;
  }

  function toast(message, kind) {
    const box = document.getElementById("toasts");
    const t = el("div", {class: "toast" + (kind ? " " + kind : ""), role: kind === "error" ? "alert" : null, text: message});
    box.append(t);
    setTimeout(() => t.remove(), kind === "error" ? 8000 : 5000);
  }

  function errorText(err) {
    if (!(err instanceof ApiError)) return String(err);
    const f = Object.entries(err.fields || {}).map(([k, v]) => (k ? k + "：" : "") + v).join("；");
    return "操作失败：" + err.message + (f ? "（" + f + "）" : "");
  }

  async function guarded(fn) {
    try { return await fn(); } catch (err) { toast(errorText(err), "error"); throw err; }
  }

  function fmt(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getMonth() + 1}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  const statusLabel = (s) => boot.labels.status[s] || s;
  const actionLabel = (a) => boot.labels.action[a] || a;

  /** The deadline that matters now and its card, as the server computed them (ticketing.cards:
   * China's working days, the supervision scan's rule). The page never decides a card itself. */
  function deadlineOf(t) {
    const s = t.deadline_state || {};
    return {due: s.due || null, kind: s.kind || null, mark: s.card === "red" || s.card === "yellow" ? s.card : null};
  }

  function deadlineBadge(t) {
    const d = deadlineOf(t);
    if (d.mark === "red") return el("span", {class: "badge red", text: "已超期"});
    if (d.mark === "yellow") return el("span", {class: "badge yellow", text: "即将超期"});
    return null;
  }

  /** Socket.IO: one "event" frame per domain event; on every (re)connect call onConnect so the page
   * re-reads its state over HTTP (catch-up without a reload). */
  function live(onEvent, onConnect) {
    const status = document.getElementById("live-status");
    const socket = io("/console", {transports: ["websocket", "polling"], reconnectionDelayMax: 3000});
    const set = (ok, text) => { if (status) { status.className = "live " + (ok ? "ok" : "down"); status.textContent = text; } };
    set(false, "实时连接中…");
    socket.on("connect", () => { set(true, "实时已连接"); document.body.dataset.live = "connected"; onConnect && onConnect(); });
    socket.on("disconnect", () => { set(false, "实时已断开，正在重连…"); document.body.dataset.live = "disconnected"; });
    socket.on("event", (frame) => { try { onEvent(frame.name, frame.payload, frame); } catch (e) { console.error(e); } });
    window.hotlineSocket = socket;
    return socket;
  }

  function debounce(fn, ms) {
    let t = null;
    return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  }

  return {boot, el, clear, segs, highlight, api, toast, errorText, guarded, fmt, statusLabel, actionLabel,
          deadlineOf, deadlineBadge, live, debounce, ApiError};
})();
