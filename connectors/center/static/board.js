// The board state the live feed keeps current: alerts by fingerprint, silences by id, and the views derived from them.

export const SEVERITIES = ["critical", "warning", "info"];
export const DOMAINS = ["queue", "windows", "evaluation", "video", "data_quality"];
export const STATES = ["firing", "acknowledged", "silenced", "resolved"];
export const ACTIVE_STATES = ["firing", "acknowledged", "silenced"];
const RESOLVED_KEEP_MS = 60 * 60 * 1000;

export class Board {
  constructor() {
    this.reset();
  }

  reset() {
    this.alerts = new Map();
    this.silences = new Map();
    this.ready = false; // true once a snapshot arrived
  }

  snapshot(data) {
    this.alerts = new Map((data.alerts || []).map((a) => [a.fingerprint, a]));
    this.silences = new Map((data.silences || []).map((s) => [s.id, s]));
    this.ready = true;
    this.prune();
  }

  upsertAlert(alert) {
    if (alert && alert.fingerprint) this.alerts.set(alert.fingerprint, alert);
    this.prune();
  }

  upsertSilence(silence) {
    if (silence && silence.id) this.silences.set(silence.id, silence);
  }

  removeSilence(id) {
    this.silences.delete(id);
  }

  /** Drop resolved alerts an hour after they resolved and silences that ended. Returns whether anything went. */
  prune(now = Date.now()) {
    let changed = false;
    for (const [fp, a] of this.alerts) {
      if (a.state === "resolved") {
        const at = Date.parse(a.resolved_at || "");
        if (!Number.isNaN(at) && now - at > RESOLVED_KEEP_MS) {
          this.alerts.delete(fp);
          changed = true;
        }
      }
    }
    for (const [id, s] of this.silences) {
      const end = Date.parse(s.ends_at || "");
      if (!Number.isNaN(end) && end <= now) {
        this.silences.delete(id);
        changed = true;
      }
    }
    return changed;
  }

  /** Alerts passing the filters, critical first, then the newest firing first. */
  filtered({ city = "", severity = "", domain = "", state = "" } = {}) {
    const states = state === "" ? ACTIVE_STATES : state === "all" ? STATES : [state];
    return [...this.alerts.values()]
      .filter((a) => (!city || a.city === city)
        && (!severity || a.severity === severity)
        && (!domain || a.domain === domain)
        && states.includes(a.state))
      .sort(compareAlerts);
  }

  /** Per city code: {critical, warning, info, total} over active (not resolved) alerts; "" holds province-level ones. */
  counts() {
    const out = new Map();
    for (const a of this.alerts.values()) {
      if (!ACTIVE_STATES.includes(a.state)) continue;
      const key = a.city || "";
      const c = out.get(key) || { critical: 0, warning: 0, info: 0, total: 0 };
      if (a.severity in c) c[a.severity] += 1;
      c.total += 1;
      out.set(key, c);
    }
    return out;
  }

  silenceList() {
    return [...this.silences.values()].sort((a, b) => String(a.ends_at).localeCompare(String(b.ends_at)));
  }
}

export function compareAlerts(a, b) {
  const rank = (s) => (SEVERITIES.includes(s) ? SEVERITIES.indexOf(s) : SEVERITIES.length);
  const bySeverity = rank(a.severity) - rank(b.severity);
  if (bySeverity) return bySeverity;
  const fired = (x) => {
    const v = Date.parse(x.fired_at || x.started_at || "");
    return Number.isNaN(v) ? 0 : v;
  };
  return fired(b) - fired(a) || String(a.fingerprint).localeCompare(String(b.fingerprint));
}

/** The worst severity with a non-zero count, or "" when there is none. */
export function worst(counts) {
  return SEVERITIES.find((s) => counts && counts[s] > 0) || "";
}
