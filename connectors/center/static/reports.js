// The statistics reports (统计报表) panel: make a period's report on request and save it, or open one the schedule kept.
// The server takes seconds to tens of seconds to make a report, so the panel shows that it is busy, and a refusal
// (bad period, missing PDF font) is shown in the panel with the server's own words.

import { api, fetchFile } from "./api.js";
import { byTestId, clear, h } from "./dom.js";
import { t } from "./i18n.js";

const LEVELS = ["province", "city", "dept"];
const CITY_LEVELS = ["city", "dept"];
const FORMATS = ["xlsx", "pdf"];
const ZONE = "Asia/Shanghai";

/** Year and month (1-12) of `now` on the duty staff's calendar, whatever zone the browser runs in. */
function shanghaiMonth(now) {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: ZONE, year: "numeric", month: "numeric" }).formatToParts(now);
  const part = (type) => Number(parts.find((p) => p.type === type).value);
  return { year: part("year"), month: part("month") };
}

/** The last closed month, quarter, half-year and year, as the API spells periods: 2026-11, 2026Q3, 2026H1, 2025. */
export function closedPeriods(now = new Date()) {
  const { year, month } = shanghaiMonth(now);
  const quarter = Math.ceil(month / 3);
  const half = month <= 6 ? 1 : 2;
  return [
    month === 1 ? `${year - 1}-12` : `${year}-${String(month - 1).padStart(2, "0")}`,
    quarter === 1 ? `${year - 1}Q4` : `${year}Q${quarter - 1}`,
    half === 1 ? `${year - 1}H2` : `${year}H1`,
    String(year - 1),
  ];
}

/** The first day a period label covers, for putting the newest kept reports first. */
function periodStart(label) {
  const m = /^(\d{4})(?:-(\d{2})(?:-\d{2})?|Q(\d)|H(\d))?/.exec(label || "");
  if (!m) return "";
  const month = m[2] ? Number(m[2]) : m[3] ? 3 * Number(m[3]) - 2 : m[4] ? 6 * Number(m[4]) - 5 : 1;
  return `${m[1]}-${String(month).padStart(2, "0")}${label.slice(7, 10)}`;
}

function size(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Hand a fetched file to the browser as a download under `name`. */
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has the blob once the download starts; keep the URL a while for slow starts.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * ctx: {user(), cities(), cityName(code, fallback)}. host: the panel's section; it gets data-state idle, busy,
 * done or error for whoever watches the page (and its tests).
 */
export class ReportsPanel {
  constructor(host, ctx) {
    this.host = host;
    this.body = host.querySelector(".reports-body");
    this.ctx = ctx;
    this.form = null;
    this.status = null; // {kind: "busy"|"done"|"error", key, vars, detail}
    this.archive = null; // null while loading, else the kept reports, newest first
    this.archiveError = "";
    this.request = null;
    this.fields = {};
  }

  /** A session began: defaults for this user, and the kept reports list. */
  start() {
    const user = this.ctx.user() || {};
    this.form = {
      period: closedPeriods()[0],
      level: user.city ? "city" : "province",
      city: user.city || "",
      format: "xlsx",
    };
    this.status = null;
    this.archive = null;
    this.archiveError = "";
    this.render();
    this.loadArchive();
  }

  /** The session ended: give up a report still being made and forget what was shown. */
  stop() {
    if (this.request) this.request.abort();
    this.request = null;
    this.form = null;
    this.status = null;
    this.archive = null;
    clear(this.body);
    this.host.dataset.state = "idle";
  }

  /** The language changed or the overview brought the city names: draw again, keeping what was typed. */
  rerender() {
    if (this.form) this.render();
  }

  cityUser() {
    const user = this.ctx.user();
    return Boolean(user && user.city);
  }

  async loadArchive() {
    try {
      const data = await api("GET", "/api/v1/reports/archive");
      const reports = Array.isArray(data && data.reports) ? data.reports : [];
      this.archive = reports.slice().sort((a, b) => periodStart(b.period).localeCompare(periodStart(a.period))
        || String(a.name).localeCompare(String(b.name)));
      this.archiveError = "";
    } catch (err) {
      if (err.status === 401) return;
      this.archive = [];
      this.archiveError = err.detail || err.message;
    }
    if (this.form) this.renderArchive();
  }

  // -- the form ------------------------------------------------------------------

  render() {
    const f = this.form;
    const levels = this.cityUser() ? CITY_LEVELS : LEVELS;
    if (!levels.includes(f.level)) f.level = levels[0];
    const period = h("input", {
      id: "report-period", testid: "report-period", value: f.period, list: "report-periods", maxlength: 23,
      autocomplete: "off", spellcheck: "false", required: true, "aria-describedby": "report-period-hint",
    });
    period.addEventListener("input", () => {
      f.period = period.value.trim();
    });
    const level = h("select", { id: "report-level", testid: "report-level" },
      levels.map((l) => h("option", { value: l }, t(`rep.level.${l}`))));
    level.value = f.level;
    level.addEventListener("change", () => {
      f.level = level.value;
      this.syncCity();
    });
    const city = h("select", { id: "report-city", testid: "report-city" });
    city.addEventListener("change", () => {
      f.city = city.value;
    });
    const format = h("select", { id: "report-format", testid: "report-format" },
      FORMATS.map((x) => h("option", { value: x }, t(`rep.format.${x}`))));
    format.value = f.format;
    format.addEventListener("change", () => {
      f.format = format.value;
    });
    const submit = h("button", { type: "submit", class: "btn primary", testid: "report-download" }, t("rep.download"));
    const cityField = h("label", { class: "report-field", for: "report-city" },
      h("span", { class: "field-label" }, t("rep.city")), city);
    const fieldset = h("fieldset", { class: "report-fields" },
      h("label", { class: "report-field wide", for: "report-period" },
        h("span", { class: "field-label" }, t("rep.period")), period),
      h("datalist", { id: "report-periods" }, closedPeriods().map((p) => h("option", { value: p }))),
      h("div", { class: "hint wide", id: "report-period-hint" }, t("rep.period_hint")),
      h("label", { class: "report-field", for: "report-level" }, h("span", { class: "field-label" }, t("rep.level")), level),
      cityField,
      h("label", { class: "report-field", for: "report-format" }, h("span", { class: "field-label" }, t("rep.format")), format));
    const form = h("form", { class: "report-form", testid: "report-form", novalidate: true },
      fieldset,
      h("div", { class: "form-buttons" }, submit),
      h("div", { class: "report-status", testid: "report-status", role: "status" }),
      h("div", { class: "action-error", testid: "report-error", role: "alert", hidden: true }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.download();
    });
    this.fields = { period, level, city, cityField, fieldset, submit, form };
    const archive = h("div", { class: "report-archive" },
      h("h3", {}, t("rep.archive"), " ",
        h("button", { type: "button", class: "btn small ghost", testid: "report-archive-refresh", on: { click: () => this.loadArchive() } },
          t("rep.refresh"))),
      h("ul", { class: "report-archive-list", testid: "report-archive" }));
    clear(this.body).append(form, archive);
    this.syncCity();
    this.renderStatus();
    this.renderArchive();
  }

  /** The city select for the chosen level: hidden for the province, one fixed city for a city user. */
  syncCity() {
    const f = this.form;
    const { city, cityField } = this.fields;
    cityField.hidden = f.level === "province";
    if (this.cityUser()) {
      const own = this.ctx.user().city;
      clear(city).append(h("option", { value: own }, this.ctx.cityName(own, this.ctx.user().city_name || own)));
      city.value = f.city = own;
      city.disabled = true;
      return;
    }
    const options = this.ctx.cities().map((c) => [c.code, this.ctx.cityName(c.code, c.name)]);
    if (f.level === "dept") options.unshift(["", t("rep.provincial_depts")]);
    clear(city).append(...options.map(([v, label]) => h("option", { value: v }, label)));
    if (!options.some(([v]) => v === f.city)) f.city = options.length ? options[0][0] : "";
    city.value = f.city;
    city.disabled = false;
  }

  renderStatus() {
    const s = this.status;
    const busy = Boolean(s && s.kind === "busy");
    this.host.dataset.state = s ? s.kind : "idle";
    const { fieldset, submit, form } = this.fields;
    fieldset.disabled = busy;
    submit.disabled = busy;
    submit.textContent = t(busy ? "rep.busy" : "rep.download");
    form.setAttribute("aria-busy", String(busy));
    const line = form.querySelector('[data-testid="report-status"]');
    const error = form.querySelector('[data-testid="report-error"]');
    line.textContent = s && s.kind !== "error" ? t(s.key, s.vars) : "";
    line.className = `report-status${s && s.kind === "done" ? " action-ok" : " hint"}`;
    error.hidden = !(s && s.kind === "error");
    error.textContent = s && s.kind === "error" ? (s.detail ? t("rep.err_detail", { what: t(s.key), detail: s.detail }) : t(s.key)) : "";
  }

  setStatus(status) {
    this.status = status;
    if (this.form) this.renderStatus();
  }

  async download() {
    const f = this.form;
    if (!f || this.request) return;
    if (!f.period) {
      this.setStatus({ kind: "error", key: "rep.need_period" });
      this.fields.period.focus();
      return;
    }
    if (f.level === "city" && !f.city) {
      this.setStatus({ kind: "error", key: "rep.need_city" });
      return;
    }
    const query = new URLSearchParams({ period: f.period, level: f.level, format: f.format });
    if (f.level !== "province" && f.city) query.set("city", f.city);
    const request = new AbortController();
    this.request = request;
    this.setStatus({ kind: "busy", key: "rep.making" });
    try {
      const { blob, filename } = await fetchFile(`/api/v1/reports?${query}`, { signal: request.signal });
      if (this.request !== request) return;
      const name = filename || `report.${f.format}`;
      save(blob, name);
      this.setStatus({ kind: "done", key: "rep.done", vars: { name, size: size(blob.size) } });
    } catch (err) {
      if (this.request !== request || (err && err.name === "AbortError")) return;
      const key = `rep.err.${err.status === 404 ? "not_found" : err.code || "failed"}`;
      this.setStatus({ kind: "error", key: t(key) === key ? "rep.err.failed" : key, detail: err.detail || err.message });
    } finally {
      if (this.request === request) this.request = null;
      if (this.status && this.status.kind === "busy") this.setStatus(null);
    }
  }

  // -- the kept reports ----------------------------------------------------------

  renderArchive() {
    const list = byTestId("report-archive", this.body);
    if (!list) return;
    clear(list);
    if (this.archive === null) {
      list.append(h("li", { class: "muted empty" }, t("list.loading")));
      return;
    }
    if (this.archiveError) list.append(h("li", { class: "action-error" }, this.archiveError));
    else if (!this.archive.length) list.append(h("li", { class: "muted empty" }, t("rep.archive_empty")));
    for (const r of this.archive) {
      const where = r.city ? this.ctx.cityName(String(r.city), String(r.city)) : "";
      const label = [r.period, t(`rep.level.${r.level}`), where].filter(Boolean).join(" · ");
      list.append(h("li", { class: "report-row", testid: "report-archive-row", data: { name: r.name } },
        h("a", { href: `/api/v1/reports/archive/${encodeURIComponent(r.name)}`, download: r.name, testid: "report-archive-link", title: r.name },
          label),
        h("span", { class: "tag" }, String(r.format || "").toUpperCase()),
        h("span", { class: "muted" }, size(r.bytes))));
    }
  }
}
