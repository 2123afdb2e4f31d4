// Talking to reamd: every call carries the API key when one was given (Authorization:
// Bearer), errors become ApiError with reamd's message, and event streams (job events,
// streamed chat) are read with fetch so that they carry the key too (EventSource cannot).

const KEY_ITEM = "ream.apiKey";
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error ? body.error : {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || "";
    this.field = e.field || e.param || "";
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_ITEM) || localStorage.getItem(KEY_ITEM) || "";
}

export function setApiKey(key, remember) {
  sessionStorage.removeItem(KEY_ITEM);
  localStorage.removeItem(KEY_ITEM);
  if (key) (remember ? localStorage : sessionStorage).setItem(KEY_ITEM, key);
}

// f(error) runs when reamd answers 401: the app asks for a key.
export function onUnauthorized(f) {
  listeners.add(f);
}

function headers(extra = {}) {
  const h = { ...extra };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function check(r) {
  if (r.ok) return r;
  let body = null;
  try { body = await r.json(); } catch { /* not JSON */ }
  const err = new ApiError(r.status, body);
  if (r.status === 401) for (const f of listeners) f(err);
  throw err;
}

// fetch with the key; `json` sends a JSON body. Returns the Response (checked).
export async function call(method, path, { json, body, contentType, signal, extraHeaders } = {}) {
  const h = headers(extraHeaders);
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (contentType) {
    h["Content-Type"] = contentType;
  }
  return check(await fetch(path, { method, headers: h, body, signal }));
}

export async function getJSON(path, opts) { return (await call("GET", path, opts)).json(); }
export async function postJSON(path, json, opts = {}) { return (await call("POST", path, { ...opts, json })).json(); }
export async function del(path) { return (await call("DELETE", path)).json(); }
export async function getText(path) { return (await call("GET", path)).text(); }

// Uploads with progress (fetch reports none): XMLHttpRequest, the key in its header.
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/v1/documents?name=${encodeURIComponent(file.name)}`);
    const key = apiKey();
    if (key) xhr.setRequestHeader("Authorization", `Bearer ${key}`);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, { error: { message: "the connection failed" } }));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      const err = new ApiError(xhr.status, body);
      if (xhr.status === 401) for (const f of listeners) f(err);
      reject(err);
    };
    xhr.send(file);
  });
}

// Reads a text/event-stream body: onEvent({event, data, id}) per event. Resolves when the
// stream ends; `signal` aborts it.
export async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let cut;
    while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut).replace(/^\r?\n\r?\n/, "");
      const ev = { event: "message", data: "", id: null };
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") data.push(val);
        else if (field === "event") ev.event = val;
        else if (field === "id") ev.id = val;
      }
      if (data.length === 0) continue;
      ev.data = data.join("\n");
      onEvent(ev);
    }
  }
}
