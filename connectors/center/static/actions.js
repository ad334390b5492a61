// What an operator can do from the drill-down: acknowledge with a comment, or silence by matchers for a while.
// One action-error element serves the whole page and moves next to whatever action just failed.

import { api, enc } from "./api.js";
import { h, clear } from "./dom.js";
import { t } from "./i18n.js";

const OPS = ["=", "!=", "=~", "!~"];
const DURATIONS = [["30m", 1800], ["1h", 3600], ["2h", 7200], ["4h", 14400], ["8h", 28800], ["24h", 86400]];
/** The org labels a silence is narrowed to, the most specific first. */
const SPECIFIC = ["camera", "hall", "node", "source"];

const errorBox = h("div", { class: "action-error", testid: "action-error", role: "alert", hidden: true });

export function showActionError(message, anchor) {
  if (anchor && errorBox.parentNode !== anchor) anchor.append(errorBox);
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

export function clearActionError() {
  errorBox.textContent = "";
  errorBox.hidden = true;
}

function describe(err) {
  if (err && err.status === 403 && !err.detail) return t("act.forbidden");
  return (err && (err.detail || err.message)) || t("act.failed");
}

/** The matchers a silence for this alert starts from: its rule, its most specific org label and its city. */
export function prefillMatchers(alert) {
  const labels = { ...(alert.org || {}), ...(alert.labels || {}), ...(alert.group || {}) };
  const out = [{ label: "rule", op: "=", value: alert.rule_id }];
  const specific = SPECIFIC.find((key) => labels[key]);
  if (specific) out.push({ label: specific, op: "=", value: String(labels[specific]) });
  const city = alert.city || labels.city;
  if (city) out.push({ label: "city", op: "=", value: String(city) });
  return out;
}

/**
 * The actions block for one alert. ctx: {onAlert(alertView), onSilence(silence)}.
 * Returns {el, update(alert)}; update keeps whatever the user typed and only re-enables what the state allows.
 */
export function actionsBlock(initial, ctx) {
  let alert = initial;
  const status = h("div", { class: "action-ok", role: "status" });

  // -- acknowledge ---------------------------------------------------------------
  const comment = h("textarea", { testid: "ack-comment", rows: 2, maxlength: 500, id: "ack-comment", placeholder: t("act.ack_placeholder") });
  const ackButton = h("button", { type: "button", class: "btn primary", testid: "ack-submit" }, t("act.ack"));
  const ackHint = h("div", { class: "hint" });
  ackButton.addEventListener("click", async () => {
    clearActionError();
    status.textContent = "";
    ackButton.disabled = true;
    ackButton.textContent = t("act.busy");
    try {
      const data = await api("POST", `/api/v1/alerts/${enc(alert.fingerprint)}/ack`, { comment: comment.value.trim() });
      comment.value = "";
      status.textContent = t("act.ack_done");
      if (data && data.alert) {
        alert = data.alert;
        ctx.onAlert(data.alert);
      }
    } catch (err) {
      showActionError(describe(err), block);
    } finally {
      ackButton.textContent = t("act.ack");
      update(alert);
    }
  });

  // -- silence -------------------------------------------------------------------
  const openButton = h("button", { type: "button", class: "btn", testid: "silence-open", "aria-expanded": "false" }, t("act.silence_open"));
  const matcherRows = h("div", { class: "matchers" });
  const durationSelect = h("select", { testid: "silence-duration", id: "silence-duration" },
    DURATIONS.map(([key, seconds]) => h("option", { value: String(seconds), selected: key === "2h" }, t(`dur.${key}`))),
    h("option", { value: "custom" }, t("act.custom")));
  const customMinutes = h("input", { type: "number", min: 1, max: 43200, step: 1, value: "90", class: "custom-minutes", testid: "silence-custom-minutes", "aria-label": t("act.minutes"), hidden: true });
  durationSelect.addEventListener("change", () => {
    customMinutes.hidden = durationSelect.value !== "custom";
    if (!customMinutes.hidden) customMinutes.focus();
  });
  const silenceComment = h("textarea", { testid: "silence-comment", id: "silence-comment", rows: 2, maxlength: 500, placeholder: t("act.silence_placeholder") });
  const submit = h("button", { type: "submit", class: "btn primary", testid: "silence-submit" }, t("act.silence_submit"));
  const cancel = h("button", { type: "button", class: "btn ghost" }, t("act.cancel"));
  const addMatcher = h("button", { type: "button", class: "btn small ghost", on: { click: () => matcherRows.append(matcherRow({ label: "", op: "=", value: "" })) } }, `＋ ${t("act.add_matcher")}`);

  const form = h("form", { class: "silence-form", testid: "silence-form", hidden: true, novalidate: true },
    h("div", { class: "form-title" }, t("act.silence_title")),
    h("div", { class: "field-label" }, t("act.matchers")),
    matcherRows,
    addMatcher,
    h("div", { class: "form-line" },
      h("label", { for: "silence-duration", class: "field-label" }, t("act.duration")), durationSelect, customMinutes),
    h("label", { for: "silence-comment", class: "field-label" }, t("act.silence_comment")),
    silenceComment,
    h("div", { class: "form-buttons" }, submit, cancel));

  function resetForm() {
    clear(matcherRows);
    for (const m of prefillMatchers(alert)) matcherRows.append(matcherRow(m));
    durationSelect.value = "7200";
    customMinutes.hidden = true;
    silenceComment.value = "";
  }

  function toggleForm(show) {
    form.hidden = !show;
    openButton.setAttribute("aria-expanded", String(show));
    if (show) resetForm();
  }

  openButton.addEventListener("click", () => {
    clearActionError();
    toggleForm(form.hidden);
  });
  cancel.addEventListener("click", () => toggleForm(false));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearActionError();
    status.textContent = "";
    const matchers = [...matcherRows.querySelectorAll('[data-testid="silence-matcher"]')].map((row) => ({
      label: row.querySelector(".m-label").value.trim(),
      op: row.querySelector(".m-op").value,
      value: row.querySelector(".m-value").value.trim(),
    })).filter((m) => m.label);
    if (!matchers.length) {
      showActionError(t("act.need_matcher"), form);
      return;
    }
    let seconds = Number(durationSelect.value);
    if (durationSelect.value === "custom") {
      const minutes = Number(customMinutes.value);
      if (!Number.isFinite(minutes) || minutes <= 0 || Math.floor(minutes) !== minutes) {
        showActionError(t("act.bad_duration"), form);
        return;
      }
      seconds = minutes * 60;
    }
    submit.disabled = true;
    submit.textContent = t("act.busy");
    try {
      const data = await api("POST", "/api/v1/silences", { matchers, duration_s: seconds, comment: silenceComment.value.trim() });
      if (data && data.silence) {
        ctx.onSilence(data.silence);
        status.textContent = t("act.silence_done", { id: data.silence.id });
      }
      toggleForm(false);
    } catch (err) {
      showActionError(describe(err), form);
    } finally {
      submit.disabled = false;
      submit.textContent = t("act.silence_submit");
    }
  });

  const block = h("section", { class: "detail-section actions" },
    h("h3", {}, t("act.title")),
    h("label", { for: "ack-comment", class: "field-label" }, t("act.ack_comment")),
    comment,
    h("div", { class: "form-buttons" }, ackButton, openButton),
    ackHint,
    form,
    status);

  function update(next) {
    alert = next;
    const canAck = alert.state === "firing" && !alert.ack;
    ackButton.disabled = !canAck;
    comment.disabled = !canAck;
    ackHint.textContent = canAck ? "" : t("act.ack_unavailable");
  }

  update(alert);
  return { el: block, update };
}

function matcherRow(m) {
  const row = h("div", { class: "matcher", testid: "silence-matcher" },
    h("input", { class: "m-label", value: m.label, "aria-label": t("act.label"), placeholder: t("act.label"), maxlength: 64 }),
    h("select", { class: "m-op", "aria-label": "op" }, OPS.map((op) => h("option", { value: op, selected: op === m.op }, op))),
    h("input", { class: "m-value", value: m.value, "aria-label": t("act.value"), placeholder: t("act.value"), maxlength: 256 }));
  row.append(h("button", { type: "button", class: "btn small ghost m-remove", title: t("act.remove_matcher"), "aria-label": t("act.remove_matcher"), on: { click: () => row.remove() } }, "✕"));
  return row;
}
