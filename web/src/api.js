// The hub's API as the workspace uses it: the session's token, JSON calls with the
// API's error body turned into ApiError (field included), and the NDJSON search stream.
const TOKEN_KEY = 'fedbroker.token';
const CERT_KEY = 'fedbroker.certificate'; // signed in by the TLS client certificate

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY) || '',
  certificate: () => sessionStorage.getItem(CERT_KEY) === '1',
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  setCertificate: () => sessionStorage.setItem(CERT_KEY, '1'),
  clear: () => { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(CERT_KEY); },
};

export class ApiError extends Error {
  constructor(status, code, message, field, extra) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
    this.extra = extra || {};
  }
}

// Problems the analyst cannot fix in the form: shown in the banner.
export const isBannerError = (e) => !(e instanceof ApiError) || e.status === 0 || e.status >= 500 || e.status === 401 || e.status === 429;

const listeners = new Set();
export const onUnauthenticated = (fn) => listeners.add(fn);

function headers(extra) {
  const h = { ...extra };
  const t = session.token();
  if (t) h.authorization = 'Bearer ' + t;
  return h;
}

async function send(method, path, body, accept) {
  const init = { method, headers: headers({ accept: accept || 'application/json' }) };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'The hub cannot be reached. Check your connection and try again.');
  }
}

async function failure(r) {
  let body = null;
  try { body = await r.json(); } catch { /* not JSON */ }
  const e = body && body.error;
  if (r.status === 401) listeners.forEach((fn) => fn());
  if (e) return new ApiError(r.status, e.code, e.message, e.field, body);
  return new ApiError(r.status, 'http_' + r.status, `The hub answered ${r.status} ${r.statusText}.`);
}

export async function api(method, path, body) {
  const r = await send(method, path, body);
  if (!r.ok) throw await failure(r);
  if (r.status === 204) return {};
  try {
    return await r.json();
  } catch {
    throw new ApiError(r.status, 'bad_answer', 'The hub sent an answer that is not JSON.');
  }
}

export async function apiText(path, accept) {
  const r = await send('GET', path, undefined, accept);
  if (!r.ok) throw await failure(r);
  return r.text();
}

// POST /v1/search with Accept: application/x-ndjson; calls onLine for each object as
// it arrives. Resolves when the stream ends.
export async function searchStream(body, onLine) {
  const r = await send('POST', '/v1/search', body, 'application/x-ndjson');
  if (!r.ok) throw await failure(r);
  const type = r.headers.get('content-type') || '';
  if (!type.startsWith('application/x-ndjson')) { // a hub that answers in one piece
    const whole = await r.json();
    whole.states.forEach((s) => onLine({ state: s }));
    whole.results.forEach((x) => onLine({ result: x }));
    onLine({ done: { query_id: whole.query_id, complete: whole.complete, audit: whole.audit } });
    return;
  }
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      throw new ApiError(0, 'network', 'The connection to the hub broke during the search. The search was audited; run it again for the full answer.');
    }
    if (chunk.done) break;
    buf += decoder.decode(chunk.value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onLine(JSON.parse(line));
    }
  }
  if (buf.trim()) onLine(JSON.parse(buf));
}

// The JWT's payload, decoded for display only (the hub checks the signature).
export function decodeToken(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function csv(rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join('; ') : typeof v === 'object' ? JSON.stringify(v) : String(v);
    // A leading = + - @ would be a formula in a spreadsheet.
    const safe = /^[=+\-@\t\r]/.test(s) ? "'" + s : s;
    return /[",\n\r]/.test(safe) ? '"' + safe.replace(/"/g, '""') + '"' : safe;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}
