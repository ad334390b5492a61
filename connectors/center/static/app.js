// The monitoring center page: sign-in, the live board over Server-Sent Events, overview, list, drill-down, silences,
// statistics reports, manual data upload.

import { api, enc, setUnauthorizedHandler } from "./api.js";
import { clearActionError, showActionError } from "./actions.js";
import { Board, DOMAINS, SEVERITIES, STATES, worst } from "./board.js";
import { DetailPanel } from "./detail.js";
import { byTestId, clear, h } from "./dom.js";
import { ago, clock, initLang, lang, setLang, t, timeLeft, translateStatic } from "./i18n.js";
import { ManualPanel } from "./manual.js";
import { ReportsPanel } from "./reports.js";

const OPERATOR_ROLES = ["admin", "province_operator", "city_operator"];
const TICK_MS = 30_000;

const board = new Board();
const ui = {
  user: null,
  cities: [], // [{code, name, name_en, counts, total}] from /api/v1/overview
  overviewAt: null,
  filters: { city: "", severity: "", domain: "", state: "" },
  stream: null,
  reconnectTimer: null,
  reconnectDelay: 2000,
  tick: null,
  renderQueued: false,
  loginMessage: "", // an i18n key shown above the login button
};

const el = {};
let detail;
let reports;
let manual;

// -- start -------------------------------------------------------------------------

function boot() {
  initLang();
  for (const id of ["login-form", "login-username", "login-password", "login-submit", "login-error", "user-badge", "logout",
    "lang-toggle", "live-status", "city-grid", "filter-city", "filter-severity", "filter-domain", "filter-state",
    "alert-list", "alert-empty", "silences-list"]) el[id] = byTestId(id);
  el.loginView = document.getElementById("login-view");
  el.appView = document.getElementById("app-view");
  el.totals = document.getElementById("totals");
  el.count = document.getElementById("alert-count");

  detail = new DetailPanel(byTestId("alert-detail"), document.getElementById("detail-placeholder"), {
    canAct,
    cityName,
    onAlert: (alert) => {
      board.upsertAlert(alert);
      scheduleRender();
      detail.touched(alert.fingerprint);
    },
    onSilence: (silence) => {
      board.upsertSilence(silence);
      scheduleRender();
    },
    onClose: () => {
      detail.close();
      renderList();
    },
  });

  reports = new ReportsPanel(byTestId("reports-panel"), { user: () => ui.user, cities: () => ui.cities, cityName });
  manual = new ManualPanel(byTestId("manual-panel"), { canUpload: canAct });

  el["login-form"].addEventListener("submit", onLogin);
  el.logout.addEventListener("click", onLogout);
  el["lang-toggle"].addEventListener("click", () => {
    setLang(lang() === "zh" ? "en" : "zh");
    translateAll();
  });
  for (const name of ["city", "severity", "domain", "state"]) {
    el[`filter-${name}`].addEventListener("change", (ev) => {
      ui.filters[name] = ev.target.value;
      renderGrid();
      renderList();
    });
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && detail.openFingerprint && !ev.target.closest("input, textarea, select")) {
      detail.close();
      renderList();
    }
  });
  setUnauthorizedHandler(() => endSession("login.expired"));
  translateStatic();
  buildFilterOptions();
  checkSession();
}

async function checkSession() {
  try {
    const session = await api("GET", "/api/v1/session", undefined, { quiet401: true });
    startSession(session);
  } catch (err) {
    showLogin(err.status === 401 ? "" : err.message);
  }
}

// -- sign-in and out ---------------------------------------------------------------

function showLogin(messageKeyOrText) {
  ui.loginMessage = messageKeyOrText || "";
  el.appView.hidden = true;
  el.loginView.hidden = false;
  el["user-badge"].hidden = true;
  el.logout.hidden = true;
  el["live-status"].hidden = true;
  renderLoginMessage();
  el["login-password"].value = "";
  (el["login-username"].value ? el["login-password"] : el["login-username"]).focus();
}

function renderLoginMessage() {
  const box = el["login-error"];
  box.textContent = ui.loginMessage ? t(ui.loginMessage) : "";
  box.hidden = !ui.loginMessage;
}

async function onLogin(ev) {
  ev.preventDefault();
  const username = el["login-username"].value.trim();
  const password = el["login-password"].value;
  if (!username || !password) {
    el[username ? "login-password" : "login-username"].focus();
    return;
  }
  const button = el["login-submit"];
  button.disabled = true;
  button.textContent = t("login.busy");
  try {
    const session = await api("POST", "/api/v1/session", { username, password }, { quiet401: true });
    el["login-password"].value = "";
    startSession(session);
  } catch (err) {
    ui.loginMessage = err.status === 401 ? "login.bad_credentials" : err.status === 429 ? "login.too_many"
      : err.status === 0 ? "err.network" : err.message || "login.failed";
    renderLoginMessage();
    el["login-password"].select();
  } finally {
    button.disabled = false;
    button.textContent = t("login.submit");
  }
}

async function onLogout() {
  try {
    await api("DELETE", "/api/v1/session", undefined, { quiet401: true });
  } catch {
    // signed out locally either way; the cookie dies with the server session or its expiry
  }
  endSession("");
}

/** Leave the board: stop the feed and timers, forget everything shown, and ask for a sign-in. */
function endSession(messageKey) {
  closeStream();
  clearInterval(ui.tick);
  ui.tick = null;
  ui.user = null;
  ui.cities = [];
  board.reset();
  detail.close();
  reports.stop();
  manual.stop();
  clear(el["alert-list"]);
  clear(el["city-grid"]);
  clear(el["silences-list"]);
  showLogin(messageKey);
}

function startSession(session) {
  ui.user = session.user;
  ui.loginMessage = "";
  ui.filters = { city: "", severity: "", domain: "", state: "" };
  board.reset();
  el.loginView.hidden = true;
  el.appView.hidden = false;
  el.logout.hidden = false;
  el["user-badge"].hidden = false;
  el["live-status"].hidden = false;
  renderLoginMessage();
  renderUser();
  buildFilterOptions();
  renderAll();
  loadOverview();
  loadSilences();
  reports.start();
  manual.start();
  connect();
  clearInterval(ui.tick);
  ui.tick = setInterval(onTick, TICK_MS);
}

function canAct() {
  return Boolean(ui.user && OPERATOR_ROLES.includes(ui.user.role));
}

// -- live feed ---------------------------------------------------------------------

function connect() {
  closeStream();
  const stream = new EventSource("/api/v1/alerts/stream");
  ui.stream = stream;
  setLive("reconnecting");
  const mine = (fn) => (ev) => {
    if (ui.stream !== stream) return;
    fn(ev);
  };
  stream.addEventListener("open", mine(() => {
    ui.reconnectDelay = 2000;
    setLive("live");
  }));
  stream.addEventListener("error", mine(() => {
    setLive("reconnecting");
    if (stream.readyState === EventSource.CLOSED) {
      // The browser gave up (the server refused the stream): find out whether the session is over, then retry.
      stream.close();
      scheduleReconnect();
    }
  }));
  stream.addEventListener("snapshot", mine((ev) => {
    const data = parse(ev);
    if (!data) return;
    board.snapshot(data);
    setLive("live");
    scheduleRender();
    if (detail.openFingerprint) detail.touched(detail.openFingerprint);
  }));
  stream.addEventListener("alert", mine((ev) => {
    const data = parse(ev);
    if (!data || !data.alert) return;
    board.upsertAlert(data.alert);
    scheduleRender();
    detail.touched(data.alert.fingerprint);
  }));
  stream.addEventListener("silence", mine((ev) => {
    const data = parse(ev);
    if (!data || !data.silence) return;
    if (data.action === "removed") board.removeSilence(data.silence.id);
    else board.upsertSilence(data.silence);
    scheduleRender();
  }));
  stream.addEventListener("session_expired", mine(() => endSession("login.expired")));
}

function parse(ev) {
  try {
    return JSON.parse(ev.data);
  } catch {
    return null;
  }
}

function closeStream() {
  clearTimeout(ui.reconnectTimer);
  ui.reconnectTimer = null;
  if (ui.stream) ui.stream.close();
  ui.stream = null;
}

function scheduleReconnect() {
  clearTimeout(ui.reconnectTimer);
  const delay = ui.reconnectDelay;
  ui.reconnectDelay = Math.min(ui.reconnectDelay * 2, 30_000);
  ui.reconnectTimer = setTimeout(async () => {
    if (!ui.user) return;
    try {
      await api("GET", "/api/v1/session", undefined, { quiet401: true });
    } catch (err) {
      if (err.status === 401) {
        endSession("login.expired");
        return;
      }
    }
    if (ui.user) connect();
  }, delay);
}

function setLive(state) {
  const box = el["live-status"];
  box.dataset.state = state;
  box.title = t(`live.title.${state}`);
  box.querySelector(".live-label").textContent = t(`live.${state}`);
}

// -- data --------------------------------------------------------------------------

async function loadOverview() {
  try {
    const data = await api("GET", "/api/v1/overview");
    ui.cities = Array.isArray(data.cities) ? data.cities : [];
    ui.overviewAt = data.at || null;
    buildCityOptions();
    renderGrid();
    renderList();
    reports.rerender();
  } catch (err) {
    if (err.status !== 401) showActionError(err.message, el["city-grid"].parentNode);
  }
}

async function loadSilences() {
  try {
    const data = await api("GET", "/api/v1/silences");
    if (!board.ready) {
      for (const s of data.silences || []) board.upsertSilence(s);
      renderSilences();
    }
  } catch {
    // the snapshot brings the silences too
  }
}

function cityName(code, fallback = "") {
  const city = ui.cities.find((c) => c.code === code);
  if (!city) return fallback || code || "";
  return lang() === "en" && city.name_en ? city.name_en : city.name;
}

// -- rendering ---------------------------------------------------------------------

function scheduleRender() {
  if (ui.renderQueued) return;
  ui.renderQueued = true;
  setTimeout(() => {
    ui.renderQueued = false;
    renderAll();
  }, 0);
}

function renderAll() {
  renderGrid();
  renderList();
  renderSilences();
}

function translateAll() {
  translateStatic();
  renderLoginMessage();
  if (!ui.user) return;
  setLive(el["live-status"].dataset.state || "reconnecting");
  renderUser();
  buildFilterOptions();
  renderAll();
  detail.rerender();
  reports.rerender();
  manual.rerender();
}

function renderUser() {
  const u = ui.user;
  const badge = clear(el["user-badge"]);
  if (!u) return;
  const role = t(`role.${u.role}`);
  const city = u.role === "city_operator" ? cityName(u.city || "", u.city_name || "") : "";
  badge.append(h("span", { class: "user-name" }, u.display_name || u.username),
    h("span", { class: `role role-${u.role}` }, city ? `${role} · ${city}` : role));
  badge.title = u.username;
}

function buildFilterOptions() {
  const fill = (select, options, value) => {
    clear(select).append(...options.map(([v, label]) => h("option", { value: v }, label)));
    select.value = options.some(([v]) => v === value) ? value : options[0][0];
  };
  fill(el["filter-severity"], [["", t("filter.all_severities")], ...SEVERITIES.map((s) => [s, t(`sev.${s}`)])], ui.filters.severity);
  fill(el["filter-domain"], [["", t("filter.all_domains")], ...DOMAINS.map((d) => [d, t(`domain.${d}`)])], ui.filters.domain);
  fill(el["filter-state"], [["", t("filter.active")], ...STATES.map((s) => [s, t(`state.${s}`)]), ["all", t("filter.everything")]], ui.filters.state);
  buildCityOptions();
}

function buildCityOptions() {
  const select = el["filter-city"];
  const options = [["", t("filter.all_cities")], ...ui.cities.map((c) => [c.code, cityName(c.code, c.name)])];
  if (ui.filters.city && !ui.cities.some((c) => c.code === ui.filters.city)) options.push([ui.filters.city, ui.filters.city]);
  clear(select).append(...options.map(([v, label]) => h("option", { value: v }, label)));
  select.value = ui.filters.city;
}

function setCityFilter(code) {
  ui.filters.city = ui.filters.city === code ? "" : code;
  el["filter-city"].value = ui.filters.city;
  renderGrid();
  renderList();
}

function renderGrid() {
  const grid = clear(el["city-grid"]);
  const live = board.ready ? board.counts() : null;
  let sum = { critical: 0, warning: 0, info: 0, total: 0 };
  for (const city of ui.cities) {
    const counts = live ? live.get(city.code) || { critical: 0, warning: 0, info: 0, total: 0 }
      : { ...city.counts, total: city.total ?? Object.values(city.counts || {}).reduce((a, b) => a + b, 0) };
    for (const k of Object.keys(sum)) sum[k] += counts[k] || 0;
    const sev = worst(counts);
    const selected = ui.filters.city === city.code;
    const tile = h("button", {
      type: "button", class: `city-tile${sev ? ` sev-${sev}` : " calm"}${selected ? " selected" : ""}`, testid: "city-tile",
      data: { city: city.code, worst: sev || "none" }, "aria-pressed": String(selected), title: t("overview.tile_title"),
    },
    h("span", { class: "city-name", title: `${city.name} ${city.name_en || ""}`.trim() }, cityName(city.code, city.name)),
    h("span", { class: "city-count", testid: "city-count" }, String(counts.total || 0)),
    h("span", { class: "city-sevs" }, SEVERITIES.filter((s) => counts[s]).map((s) => h("span", { class: `mini sev-${s}`, title: t(`sev.${s}`) }, String(counts[s])))));
    tile.addEventListener("click", () => setCityFilter(city.code));
    grid.append(tile);
  }
  if (live && live.has("")) {
    const p = live.get("");
    for (const k of Object.keys(sum)) sum[k] += p[k] || 0;
  }
  const totals = clear(el.totals);
  totals.append(h("span", { class: "total-label" }, t("overview.total")),
    h("strong", { class: "total-n" }, String(sum.total)),
    ...SEVERITIES.map((s) => h("span", { class: `pill sev-${s}${sum[s] ? "" : " zero"}` }, `${t(`sev.${s}`)} ${sum[s]}`)));
  if (live && live.has("")) totals.append(h("span", { class: "pill province" }, `${t("overview.province_level")} ${live.get("").total}`));
}

function renderList() {
  const list = clear(el["alert-list"]);
  const alerts = board.filtered(ui.filters);
  const open = detail.openFingerprint;
  for (const a of alerts) {
    const fired = a.fired_at || a.started_at;
    const place = [a.city ? cityName(a.city, a.city_name) : t("overview.province"), (a.org && (a.org.hall_name || a.org.county_name || a.org.node_name || a.org.camera_name || a.org.source_name)) || ""]
      .filter(Boolean).join(" · ");
    const row = h("li", {
      class: `alert-row sev-${a.severity} st-${a.state}${a.fingerprint === open ? " open" : ""}`, testid: "alert-row", tabindex: 0,
      role: "button", "aria-current": a.fingerprint === open ? "true" : null,
      data: { fingerprint: a.fingerprint, severity: a.severity, state: a.state, city: a.city || "" },
    },
    h("span", { class: `sev-badge sev-${a.severity}` }, t(`sev.${a.severity}`)),
    h("span", { class: "row-main" },
      h("span", { class: "row-title" }, a.title || a.rule_id, a.flapping ? h("span", { class: "tag flap" }, t("list.flapping")) : null),
      h("span", { class: "row-message" }, a.message || "")),
    h("span", { class: "row-place" }, place, a.domain ? h("span", { class: "row-domain" }, t(`domain.${a.domain}`)) : null),
    h("span", { class: "row-age", title: clock(fired, { seconds: true }), data: { ts: fired || "" } }, ago(fired)),
    h("span", { class: "row-state" },
      h("span", { class: `state-badge st-${a.state}` }, t(a.state === "resolved" ? "state.resolved_short" : `state.${a.state}`)),
      a.ack && a.ack.by ? h("span", { class: "ack-by" }, t("list.ack_by", { by: a.ack.by })) : null));
    const openIt = () => {
      detail.open(a.fingerprint);
      for (const r of list.querySelectorAll(".alert-row.open")) r.classList.remove("open");
      row.classList.add("open");
    };
    row.addEventListener("click", openIt);
    row.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        openIt();
      }
    });
    list.append(row);
  }
  el["alert-empty"].hidden = !board.ready || alerts.length > 0;
  el["alert-empty"].textContent = t("list.empty");
  el.count.textContent = board.ready ? t("list.count", { n: alerts.length }) : t("list.loading");
}

function renderSilences() {
  const list = clear(el["silences-list"]);
  const silences = board.silenceList();
  for (const s of silences) {
    const row = h("li", { class: "silence-row", testid: "silence-row", data: { silenceId: s.id } },
      h("div", { class: "matcher-chips" }, (s.matchers || []).map((m) => h("code", { class: "chip" }, `${m.label}${m.op}${m.value}`))),
      h("div", { class: "silence-meta" },
        h("span", { class: "left", data: { until: s.ends_at || "" }, title: t("sil.until", { t: clock(s.ends_at) }) }, timeLeft(s.ends_at)),
        h("span", {}, t("sil.by", { by: s.created_by || "" })),
        h("span", { class: "muted" }, t("sil.until", { t: clock(s.ends_at) }))),
      s.comment ? h("div", { class: "silence-comment" }, s.comment) : null);
    if (canAct()) {
      const button = h("button", { type: "button", class: "btn small", testid: "unsilence" }, t("sil.unsilence"));
      button.addEventListener("click", async () => {
        clearActionError();
        button.disabled = true;
        try {
          await api("DELETE", `/api/v1/silences/${enc(s.id)}`);
          board.removeSilence(s.id);
          scheduleRender();
        } catch (err) {
          button.disabled = false;
          showActionError(err.detail || err.message, el["silences-list"].parentNode);
        }
      });
      row.append(button);
    }
    list.append(row);
  }
  if (!silences.length) list.append(h("li", { class: "muted empty" }, t("sil.empty")));
}

/** Every 30 s: ages and time left move on, resolved alerts an hour old and ended silences leave. No server call. */
function onTick() {
  if (board.prune()) {
    renderAll();
    return;
  }
  for (const node of el["alert-list"].querySelectorAll("[data-ts]")) node.textContent = ago(node.dataset.ts);
  for (const node of el["silences-list"].querySelectorAll("[data-until]")) node.textContent = timeLeft(node.dataset.until);
}

boot();
