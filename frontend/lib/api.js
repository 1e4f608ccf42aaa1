// Small fetch helpers shared by the annotator pages (no framework, no build step).

const params = new URLSearchParams(window.location.search);

export function pageParam(name) {
  return params.get(name);
}

function cookie(name) {
  const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : null;
}

// Every API call carries the page's query string (signed link token, MTurk assignment fields)
// and, for signed-in annotators, the CSRF token.
export async function api(path, { method = 'GET', body } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of params) if (!url.searchParams.has(k)) url.searchParams.set(k, v);
  const headers = { Accept: 'application/json' };
  const token = params.get('w');
  if (token) headers['X-Worker-Token'] = token;
  const csrf = cookie('csrftoken');
  if (csrf) headers['X-CSRFToken'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch { data = {}; }
  return { status: response.status, ok: response.ok, data };
}

export function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
