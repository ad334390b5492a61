// The drill-down for one alert: rule and message, org path, actions, trend, evidence, history, Grafana link.
// A live event for the open alert re-fetches the detail so the history shows new actions at once.

import { actionsBlock, clearActionError } from "./actions.js";
import { api, enc } from "./api.js";
import { formatValue, trendChart } from "./chart.js";
import { clear, h } from "./dom.js";
import { ago, clock, lang, t } from "./i18n.js";

const ORG_STEPS = [["city", "city_name"], ["county", "county_name"], ["hall", "hall_name"], ["node", "node_name"],
  ["camera", "camera_name"], ["source", "source_name"], ["window", "window_name"], ["dept", "dept_name"]];

/**
 * ctx: {canAct(), cityName(code), onAlert(alertView), onSilence(silence), onClose()}.
 * host: the element the panel lives in; placeholder: what shows when nothing is open.
 */
export class DetailPanel {
  constructor(host, placeholder, ctx) {
    this.host = host;
    this.placeholder = placeholder;
    this.ctx = ctx;
    this.fp = null;
    this.data = null;
    this.trend = null;
    this.trendKey = "";
    this.token = 0;
    this.refreshTimer = null;
    this.actions = null;
    this.panel = null;
  }

  get openFingerprint() {
    return this.fp;
  }

  async open(fp) {
    if (this.fp !== fp) {
      this.fp = fp;
      this.data = null;
      this.trend = null;
      this.trendKey = "";
      this.actions = null;
      clearActionError();
    }
    this.placeholder.hidden = true;
    this.renderShell();
    await this.load(true);
  }

  close() {
    this.fp = null;
    this.data = null;
    this.actions = null;
    this.token += 1;
    clearTimeout(this.refreshTimer);
    clear(this.host);
    this.host.hidden = true;
    this.placeholder.hidden = false;
    clearActionError();
  }

  /** An SSE notice touched this alert: re-fetch soon (several notices in a burst make one request). */
  touched(fp) {
    if (fp !== this.fp) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.load(false), 120);
  }

  /** Re-render from what is loaded (language switch). */
  rerender() {
    if (!this.fp) return;
    this.actions = null;
    this.renderShell();
    if (this.data) this.render();
  }

  async load(first) {
    const fp = this.fp;
    const token = ++this.token;
    try {
      const data = await api("GET", `/api/v1/alerts/${enc(fp)}`);
      if (token !== this.token) return;
      this.data = data;
      this.render();
    } catch (err) {
      if (token !== this.token) return;
      if (err.status === 401) return;
      if (first || err.status === 404) this.renderError(err.status === 404 ? t("detail.not_found") : err.message);
      return;
    }
    const alert = this.data.alert || {};
    const key = `${alert.fingerprint}|${alert.episode}|${alert.fired_at}|${alert.state === "resolved"}`;
    if (key !== this.trendKey) {
      this.trendKey = key;
      try {
        this.trend = await api("GET", `/api/v1/alerts/${enc(fp)}/trend`);
      } catch (err) {
        this.trend = { error: err.status === 404 ? "no_trend" : err.message };
      }
      if (this.fp === fp) this.renderTrend();
    }
  }

  renderShell() {
    clear(this.host);
    this.host.hidden = false;
    const close = h("button", { type: "button", class: "btn small ghost close", "aria-label": t("detail.close"), title: t("detail.close"), on: { click: () => this.ctx.onClose() } }, "✕");
    this.parts = {
      head: h("div", { class: "detail-head" }),
      org: h("div", { class: "detail-org" }),
      actions: h("div", { class: "detail-actions" }),
      trend: h("section", { class: "detail-section" }),
      evidence: h("section", { class: "detail-section" }),
      history: h("section", { class: "detail-section" }),
      links: h("div", { class: "detail-links" }),
    };
    this.panel = h("div", { class: "detail-body" },
      h("div", { class: "detail-top" }, h("span", { class: "panel-title" }, t("detail.title")), close),
      this.parts.head, this.parts.org, this.parts.actions, this.parts.trend, this.parts.evidence, this.parts.history,
      this.parts.links);
    this.host.append(this.panel);
    this.parts.head.append(h("div", { class: "muted" }, t("detail.loading")));
  }

  renderError(message) {
    clear(this.parts.head).append(h("div", { class: "notice" }, message));
  }

  render() {
    const { alert = {}, rule, history = [], grafana_url: grafanaUrl } = this.data;
    this.renderHead(alert, rule);
    this.renderOrg(alert);
    if (this.ctx.canAct()) {
      if (!this.actions) {
        this.actions = actionsBlock(alert, { onAlert: (a) => this.ctx.onAlert(a), onSilence: (s) => this.ctx.onSilence(s) });
        clear(this.parts.actions).append(this.actions.el);
      } else {
        this.actions.update(alert);
      }
    } else {
      clear(this.parts.actions);
    }
    this.renderEvidence(alert);
    this.renderHistory(history);
    clear(this.parts.links);
    if (grafanaUrl && /^https?:\/\//i.test(grafanaUrl)) {
      this.parts.links.append(h("a", { href: grafanaUrl, target: "_blank", rel: "noopener noreferrer", class: "grafana", testid: "grafana-link" }, `${t("detail.grafana")} ↗`));
    }
    if (this.trend) this.renderTrend();
  }

  renderHead(alert, rule) {
    const head = clear(this.parts.head);
    const title = (rule && rule.title) || alert.title || alert.rule_id || "";
    head.append(
      h("div", { class: "badges" },
        h("span", { class: `sev-badge sev-${alert.severity}` }, t(`sev.${alert.severity}`)),
        h("span", { class: `state-badge st-${alert.state}` }, t(alert.state === "resolved" ? "state.resolved_short" : `state.${alert.state}`)),
        alert.domain ? h("span", { class: "tag" }, t(`domain.${alert.domain}`)) : null,
        alert.flapping ? h("span", { class: "tag flap" }, t("list.flapping")) : null),
      h("h2", { class: "detail-title", testid: "detail-title" }, title),
      h("p", { class: "detail-message", testid: "detail-message" }, alert.message || ""));
    if (rule && rule.description) head.append(h("p", { class: "rule-desc" }, rule.description));
    const meta = h("dl", { class: "meta" });
    const add = (label, value) => {
      if (value === null || value === undefined || value === "") return;
      meta.append(h("dt", {}, label), h("dd", {}, value));
    };
    add(t("detail.rule"), `${alert.rule_id || ""}${rule && rule.type ? ` · ${rule.type}` : ""}${rule && rule.window ? ` · ${rule.window}` : ""}`);
    if (alert.value !== null && alert.value !== undefined) {
      const threshold = rule && rule.threshold !== null && rule.threshold !== undefined ? ` (${t("detail.threshold")} ${formatValue(rule.threshold)})` : "";
      add(t("detail.value"), `${formatValue(alert.value)}${threshold}`);
    }
    const fired = alert.fired_at || alert.started_at;
    if (fired) add(t("detail.fired_at"), `${clock(fired, { seconds: true })} · ${ago(fired)}${alert.episode > 1 ? ` · ${t("detail.episode", { n: alert.episode })}` : ""}`);
    if (alert.resolved_at) add(t("detail.resolved_at"), `${clock(alert.resolved_at, { seconds: true })} · ${ago(alert.resolved_at)}`);
    if (alert.ack) add(t("state.acknowledged"), `${alert.ack.by || ""} · ${clock(alert.ack.at)}${alert.ack.comment ? ` · ${alert.ack.comment}` : ""}`);
    if (alert.silenced_by) add(t("state.silenced"), t("detail.silenced_by", { by: alert.silenced_by }));
    if (alert.inhibited_by) add(t("hist.inhibited"), t("detail.inhibited_by", { by: alert.inhibited_by }));
    head.append(meta);
  }

  renderOrg(alert) {
    const org = alert.org || {};
    const path = h("ol", { class: "org-path", testid: "org-path", "aria-label": t("detail.org") });
    path.append(h("li", { data: { level: "province" } }, lang() === "en" ? t("overview.province") : org.province || t("overview.province")));
    for (const [code, name] of ORG_STEPS) {
      if (!org[code] && !org[name]) continue;
      const label = code === "city" ? this.ctx.cityName(org.city, org.city_name) : org[name] || org[code];
      const li = h("li", { data: { level: code }, title: `${t(`org.${code}`)} ${org[code] || ""}` }, label);
      if (org[name] && org[code] && code !== "city" && code !== "county") li.append(h("span", { class: "code" }, org[code]));
      path.append(li);
    }
    clear(this.parts.org).append(path);
  }

  renderTrend() {
    const box = clear(this.parts.trend);
    const trend = this.trend || {};
    const heading = h("h3", {}, t("detail.trend"));
    box.append(heading);
    if (trend.error || !trend.points) {
      box.append(h("div", { class: "trend-empty", testid: "trend-empty" }, t("detail.trend_empty")));
      return;
    }
    heading.append(h("span", { class: "sub" }, ` ${trend.label || trend.indicator || ""} · ${trend.scope || ""} · ${trend.window || ""}${trend.unit ? ` · ${trend.unit}` : ""}`));
    const svg = trendChart(trend);
    box.append(svg || h("div", { class: "trend-empty", testid: "trend-empty" }, t("detail.trend_empty")));
  }

  renderEvidence(alert) {
    const box = clear(this.parts.evidence);
    const evidence = alert.evidence && typeof alert.evidence === "object" ? alert.evidence : {};
    box.append(h("h3", {}, t("detail.evidence")));
    const list = h("dl", { class: "evidence", testid: "evidence" });
    for (const [key, value] of Object.entries(evidence)) {
      if (key === "event_ids" || key === "message") continue;
      list.append(h("dt", {}, key), h("dd", {}, typeof value === "object" && value !== null ? JSON.stringify(value) : String(value)));
    }
    if (!list.childNodes.length) list.append(h("dd", { class: "muted" }, t("detail.evidence_empty")));
    box.append(list);
    const ids = Array.isArray(evidence.event_ids) ? evidence.event_ids : [];
    if (ids.length) {
      box.append(h("div", { class: "field-label" }, `${t("detail.event_ids")} (${ids.length})`),
        h("ul", { class: "event-ids", testid: "event-ids" }, ids.map((id) => h("li", {}, h("code", {}, String(id))))));
    }
  }

  renderHistory(history) {
    const box = clear(this.parts.history);
    box.append(h("h3", {}, t("detail.history")));
    const list = h("ol", { class: "history", testid: "history" });
    for (const item of history) {
      const kind = String(item.kind || "");
      list.append(h("li", { class: `history-item hk-${kind}`, testid: "history-item", data: { kind } },
        h("span", { class: "h-time", title: item.at || "" }, clock(item.at, { seconds: true })),
        h("span", { class: "h-kind" }, t(`hist.${kind}`)),
        item.by ? h("span", { class: "h-by" }, item.by) : null,
        item.comment ? h("span", { class: "h-comment" }, item.comment) : null));
    }
    if (!history.length) list.append(h("li", { class: "muted" }, t("detail.history_empty")));
    box.append(list);
  }
}
