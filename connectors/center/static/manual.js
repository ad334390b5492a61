// The manual data (手工数据上报) panel: an operator uploads a CSV or XLSX of indicator values entered by hand and
// sees what the server did with it: how many values were stored, or every refused row with its line and reason, so
// the spreadsheet can be fixed and sent again. By default a file with one bad row stores nothing; "only the good
// rows" asks the server to store the rest. Viewers cannot upload, so the panel stays hidden for them.

import { postForm } from "./api.js";
import { byTestId, clear, h } from "./dom.js";
import { t } from "./i18n.js";

const ACCEPT = ".csv,.xlsx";
// A file may have up to 20,000 rows; listing that many refusals would freeze the page and help no one.
const MAX_LISTED = 200;

/**
 * ctx: {canUpload()}. host: the panel's section; it gets data-state idle, busy, done (values stored), refused (rows
 * refused, nothing stored) or error (the file or the request failed) for whoever watches the page (and its tests).
 */
export class ManualPanel {
  constructor(host, ctx) {
    this.host = host;
    this.body = host.querySelector(".manual-body");
    this.ctx = ctx;
    this.form = null; // {partial}
    this.status = null; // {kind: "busy"|"done"|"refused"|"error", key, detail, answer}
    this.request = null;
    this.fields = {};
    this.file = null; // the file input, kept across renders so a language switch keeps the chosen file
  }

  /** A session began: the form for an operator, nothing for a viewer. */
  start() {
    this.form = { partial: false };
    this.status = null;
    this.file = null;
    this.host.hidden = !this.ctx.canUpload();
    if (this.host.hidden) {
      clear(this.body);
      this.host.dataset.state = "idle";
      return;
    }
    this.render();
  }

  /** The session ended: give up an upload in flight and forget the file and the answer. */
  stop() {
    if (this.request) this.request.abort();
    this.request = null;
    this.form = null;
    this.status = null;
    this.file = null;
    clear(this.body);
    this.host.hidden = true;
    this.host.dataset.state = "idle";
  }

  /** The language changed: draw again, keeping the chosen file, the checkbox and the answer. */
  rerender() {
    if (this.form && !this.host.hidden) this.render();
  }

  render() {
    const f = this.form;
    if (!this.file) {
      this.file = h("input", { type: "file", id: "manual-file", testid: "manual-file", accept: ACCEPT, required: true });
      this.file.addEventListener("change", () => {
        if (this.status && this.status.kind !== "busy") this.setStatus(null);
      });
    }
    const partial = h("input", { type: "checkbox", id: "manual-partial", testid: "manual-partial" });
    partial.checked = f.partial;
    partial.addEventListener("change", () => {
      f.partial = partial.checked;
    });
    const submit = h("button", { type: "submit", class: "btn primary", testid: "manual-submit" }, t("man.upload"));
    const fieldset = h("fieldset", { class: "manual-fields" },
      h("label", { class: "field-label", for: "manual-file" }, t("man.file")),
      this.file,
      h("div", { class: "hint", id: "manual-hint" }, t("man.hint")),
      h("label", { class: "manual-partial", for: "manual-partial" }, partial, " ", t("man.partial")),
      h("div", { class: "hint" }, t("man.partial_hint")));
    this.file.setAttribute("aria-describedby", "manual-hint");
    const form = h("form", { class: "manual-form", testid: "manual-form", novalidate: true },
      fieldset,
      h("div", { class: "form-buttons" }, submit),
      h("div", { class: "manual-status", testid: "manual-status", role: "status" }),
      h("div", { class: "action-error", testid: "manual-error", role: "alert", hidden: true }),
      h("div", { class: "manual-refused", testid: "manual-refused" }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.upload();
    });
    this.fields = { partial, fieldset, submit, form };
    clear(this.body).append(form);
    this.renderStatus();
  }

  renderStatus() {
    const s = this.status;
    const busy = Boolean(s && s.kind === "busy");
    this.host.dataset.state = s ? s.kind : "idle";
    const { fieldset, submit, form } = this.fields;
    fieldset.disabled = busy;
    submit.disabled = busy;
    submit.textContent = t(busy ? "man.busy" : "man.upload");
    form.setAttribute("aria-busy", String(busy));
    const line = byTestId("manual-status", form);
    const error = byTestId("manual-error", form);
    const answer = s && s.answer;
    line.textContent = s && (s.kind === "busy" || s.kind === "done") ? this.statusText() : "";
    line.className = `manual-status${s && s.kind === "done" ? " action-ok" : " hint"}`;
    const failed = Boolean(s && (s.kind === "error" || s.kind === "refused"));
    error.hidden = !failed;
    error.textContent = failed ? this.statusText() : "";
    this.renderRefused(byTestId("manual-refused", form), answer && Array.isArray(answer.refused) ? answer.refused : []);
  }

  /** The one line saying what happened; server text (a file refusal's detail) goes in as text, never as markup. */
  statusText() {
    const s = this.status;
    const a = s.answer || {};
    if (s.kind === "busy") return t("man.uploading");
    if (s.kind === "done") return t("man.stored", { stored: Number(a.stored) || 0, rows: Number(a.rows) || 0, file: String(a.file || "") });
    if (s.kind === "refused") {
      const n = Array.isArray(a.refused) ? a.refused.length : 0;
      return t(a.partial ? "man.none_good" : "man.refused", { n, rows: Number(a.rows) || 0 });
    }
    return s.detail ? t("man.err_detail", { what: t(s.key), detail: s.detail }) : t(s.key);
  }

  /** The refused rows as a table of line, reason and the server's explanation. */
  renderRefused(box, refused) {
    clear(box);
    if (!refused.length) return;
    const shown = refused.slice(0, MAX_LISTED);
    const reason = (code) => {
      const key = `man.reason.${code}`;
      return t(key) === key ? String(code || "") : t(key);
    };
    box.append(h("div", { class: "hint" }, t("man.refused_rows", { n: refused.length })),
      h("div", { class: "manual-table-wrap" },
        h("table", { class: "manual-table", testid: "manual-refused-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("man.col.line")), h("th", { scope: "col" }, t("man.col.reason")),
            h("th", { scope: "col" }, t("man.col.detail")))),
          h("tbody", {}, shown.map((r) => h("tr", { testid: "manual-refused-row", data: { line: r.line, reason: r.reason } },
            h("td", { class: "num" }, String(r.line ?? "")),
            h("td", { title: String(r.reason || "") }, reason(r.reason)),
            h("td", {}, String(r.detail || ""))))))));
    if (refused.length > shown.length) box.append(h("div", { class: "hint" }, t("man.more_rows", { n: refused.length - shown.length })));
  }

  setStatus(status) {
    this.status = status;
    if (this.form && !this.host.hidden) this.renderStatus();
  }

  async upload() {
    const f = this.form;
    if (!f || this.request) return;
    const file = this.file.files && this.file.files[0];
    if (!file) {
      this.setStatus({ kind: "error", key: "man.need_file" });
      this.file.focus();
      return;
    }
    const body = new FormData();
    body.append("file", file, file.name);
    const request = new AbortController();
    this.request = request;
    this.setStatus({ kind: "busy" });
    try {
      const { status, data } = await postForm(`/api/v1/manual-values${f.partial ? "?partial=1" : ""}`, body,
        { signal: request.signal, answers: [422] });
      if (this.request !== request) return;
      this.setStatus({ kind: status === 422 ? "refused" : "done", answer: data || {} });
      // Stored: the next upload is another file. Refused: keep it, to send again with "only the good rows".
      if (status !== 422) this.file.value = "";
    } catch (err) {
      if (this.request !== request || (err && err.name === "AbortError")) return;
      const key = `man.err.${err.code || "failed"}`;
      this.setStatus({ kind: "error", key: t(key) === key ? "man.err.failed" : key, detail: err.detail || err.message });
    } finally {
      if (this.request === request) this.request = null;
      if (this.status && this.status.kind === "busy") this.setStatus(null);
    }
  }
}
