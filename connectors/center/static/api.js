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
  if (!response.ok) failed(response.status, data, quiet401);
  return data;
}

function failed(status, data, quiet401 = false) {
  if (status === 401 && !quiet401) onUnauthorized();
  const code = data && typeof data.error === "string" ? data.error : "";
  const detail = data && typeof data.detail === "string" ? data.detail : "";
  throw new ApiError(status, code, detail || t("err.http", { status }));
}

/**
 * GET a file the server sends as an attachment; resolves to {blob, filename}, rejects with ApiError as api() does.
 * `signal` lets the caller give up (the session ended while the server was still making the file).
 */
export async function fetchFile(path, { signal } = {}) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin", signal });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", t("err.network"));
  }
  if (!response.ok) {
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null; // not JSON (a proxy's page): the status says enough
    }
    failed(response.status, data);
  }
  let blob;
  try {
    blob = await response.blob();
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", t("err.network"));
  }
  return { blob, filename: attachmentName(response.headers.get("Content-Disposition")) };
}

/**
 * POST a multipart form (a file upload); resolves to {status, data} for a 2xx answer or for a status in `answers`
 * (422 when the server refuses rows and says which in a JSON body of the same shape), rejects with ApiError as api()
 * does otherwise. `signal` lets the caller give up when the session ends mid-upload.
 */
export async function postForm(path, form, { signal, answers = [] } = {}) {
  let response;
  try {
    // No Content-Type header: the browser writes multipart/form-data with its boundary.
    response = await fetch(path, { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" }, body: form, signal });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", t("err.network"));
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    data = null; // not JSON (a proxy's page): the status says enough
  }
  if (!response.ok && !(answers.includes(response.status) && data)) failed(response.status, data);
  return { status: response.status, data };
}

/** The file name of a Content-Disposition header (RFC 6266: filename* first), without any folder part. */
export function attachmentName(header) {
  const text = header || "";
  let name = "";
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(text);
  if (star) {
    try {
      name = decodeURIComponent(star[1].trim());
    } catch {
      name = "";
    }
  }
  if (!name) {
    const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(text);
    name = plain ? plain[1].trim() : "";
  }
  return name.replace(/^.*[\\/]/, "");
}

export const enc = encodeURIComponent;
