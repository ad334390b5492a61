// A small trend chart as inline SVG: the series (gaps where values are null), min/max and time labels,
// the rule's threshold as a dashed line and a marker where the alert fired.

import { h } from "./dom.js";
import { clock, t } from "./i18n.js";

const W = 420;
const H = 150;
const PAD = { left: 52, right: 12, top: 14, bottom: 24 };

export function formatValue(value, unit = "") {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  const v = Number(value);
  const abs = Math.abs(v);
  const text = abs >= 1000 ? v.toFixed(0) : abs >= 100 ? v.toFixed(1).replace(/\.0$/, "") : abs >= 1 ? String(Math.round(v * 100) / 100) : String(Math.round(v * 10000) / 10000);
  return unit ? `${text}${unitSuffix(unit)}` : text;
}

function unitSuffix(unit) {
  return unit === "%" ? "%" : ` ${unit}`;
}

/** The <svg data-testid="trend-chart">, or null when the series has no value to draw. */
export function trendChart(trend) {
  const points = (trend.points || [])
    .map((p) => ({ t: Date.parse(p.t), v: p.value === null || p.value === undefined ? null : Number(p.value) }))
    .filter((p) => !Number.isNaN(p.t))
    .sort((a, b) => a.t - b.t);
  const values = points.map((p) => p.v).filter((v) => v !== null && Number.isFinite(v));
  if (!values.length) return null;

  const threshold = trend.threshold === null || trend.threshold === undefined ? null : Number(trend.threshold);
  const firedAt = trend.fired_at ? Date.parse(trend.fired_at) : NaN;
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const yLo = Math.min(lo, threshold ?? lo);
  const yHi = Math.max(hi, threshold ?? hi);
  const span = yHi - yLo || Math.abs(yHi) || 1;
  const y0 = yLo - span * 0.08;
  const y1 = yHi + span * 0.08;
  let t0 = points[0].t;
  let t1 = points[points.length - 1].t;
  if (!Number.isNaN(firedAt)) {
    t0 = Math.min(t0, firedAt);
    t1 = Math.max(t1, firedAt);
  }
  if (t1 === t0) {
    t0 -= 60000;
    t1 += 60000;
  }
  const x = (tm) => PAD.left + ((tm - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const unit = trend.unit || "";

  const svg = h("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "trend", role: "img", "data-testid": "trend-chart",
    "aria-label": `${trend.label || trend.indicator || ""}`,
  });
  svg.append(h("title", {}, `${trend.label || trend.indicator || ""} · ${trend.scope || ""} · ${trend.window || ""}`));
  const plotBottom = H - PAD.bottom;
  svg.append(h("rect", { class: "trend-plot", x: PAD.left, y: PAD.top, width: W - PAD.left - PAD.right, height: plotBottom - PAD.top }));

  // The series: one path, a new subpath after every gap; lone points get a dot so they are not lost.
  let d = "";
  let penDown = false;
  points.forEach((p, i) => {
    if (p.v === null || !Number.isFinite(p.v)) {
      penDown = false;
      return;
    }
    d += `${penDown ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    const prev = points[i - 1];
    const next = points[i + 1];
    const alone = (!prev || prev.v === null) && (!next || next.v === null);
    if (alone) svg.append(h("circle", { class: "trend-dot", cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.2 }));
    penDown = true;
  });
  if (d) svg.append(h("path", { class: "trend-line", d }));

  if (threshold !== null && Number.isFinite(threshold)) {
    const ty = y(threshold).toFixed(1);
    svg.append(h("line", { class: "trend-threshold", x1: PAD.left, x2: W - PAD.right, y1: ty, y2: ty, "data-role": "threshold" }));
    svg.append(h("text", { class: "trend-threshold-label", x: W - PAD.right - 2, y: Number(ty) - 3, "text-anchor": "end" },
      `${t("detail.threshold")} ${formatValue(threshold, unit)}`));
  }

  if (!Number.isNaN(firedAt)) {
    const fx = x(firedAt).toFixed(1);
    svg.append(h("line", { class: "trend-fired", x1: fx, x2: fx, y1: PAD.top, y2: plotBottom, "data-role": "fired" }));
    svg.append(h("polygon", { class: "trend-fired-mark", points: `${fx},${PAD.top + 6} ${Number(fx) - 4},${PAD.top} ${Number(fx) + 4},${PAD.top}` }));
    const anchor = Number(fx) > W - 60 ? "end" : "start";
    svg.append(h("text", { class: "trend-fired-label", x: Number(fx) + (anchor === "end" ? -5 : 5), y: PAD.top + 9, "text-anchor": anchor },
      `${t("detail.fired")} ${clock(trend.fired_at, { date: false })}`));
  }

  // Axis labels: the series' max and min on the left, first and last time below.
  lo = Math.min(...values);
  hi = Math.max(...values);
  svg.append(h("text", { class: "trend-axis", x: PAD.left - 4, y: y(hi) + 3, "text-anchor": "end" }, formatValue(hi, unit)));
  if (hi !== lo) svg.append(h("text", { class: "trend-axis", x: PAD.left - 4, y: y(lo) + 3, "text-anchor": "end" }, formatValue(lo, unit)));
  const sameDay = new Date(t0).toDateString() === new Date(t1).toDateString();
  svg.append(h("text", { class: "trend-axis", x: PAD.left, y: H - 8, "text-anchor": "start" }, clock(new Date(t0).toISOString(), { date: !sameDay })));
  svg.append(h("text", { class: "trend-axis", x: W - PAD.right, y: H - 8, "text-anchor": "end" }, clock(new Date(t1).toISOString(), { date: !sameDay })));
  return svg;
}
