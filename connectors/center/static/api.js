// The one way the page talks to the server: JSON over fetch, same-origin cookies, 401 means the session is over.

import { t } from "./i18n.js";

let onUnauthorized = () => {};

/** Called when any API call (other than the session ones) answers 401. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || code || t("err.http", { status }));
    this.status = status;
    this.code = code || "";
    this.detail = detail || "";
  }
}

/** fetch JSON; resolves to the parsed body (or null for 204), rejects with ApiError carrying the server's detail. */
export async function api(method, path, body, { quiet401 = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  } else if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", t("err.network"));
  }
  let data = null;
  if (response.status !== 204) {
    const text = await response.text();
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 401 && !quiet401) onUnauthorized();
    const code = data && typeof data.error === "string" ? data.error : "";
    const detail = data && typeof data.detail === "string" ? data.detail : "";
    throw new ApiError(response.status, code, detail || t("err.http", { status: response.status }));
  }
  return data;
}

export const enc = encodeURIComponent;
