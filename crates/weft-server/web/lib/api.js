// The one way the UI talks to the server.
//
//   api(path, {method, body, headers, signal}) -> parsed JSON (or text, or null for an empty body)
//   throws ApiError {status, code, message, body} built from the server's error shapes:
//   {"error_code","message"} (REST API, registry) and ksqlDB's {"@type","error_code","message",...}.
//   A network failure is ApiError with status 0; an aborted request rethrows the AbortError
//   (check with isAbort(e) and ignore it).
// Every request carries X-Weft-Actor = getActor() (localStorage "weft.actor", default "admin").

const ACTOR_KEY = 'weft.actor';
const DEFAULT_ACTOR = 'admin';

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function getActor() {
  try {
    return localStorage.getItem(ACTOR_KEY) || DEFAULT_ACTOR;
  } catch {
    return DEFAULT_ACTOR;
  }
}

export function setActor(name) {
  const actor = String(name || '').trim() || DEFAULT_ACTOR;
  try {
    localStorage.setItem(ACTOR_KEY, actor);
  } catch {
    // Private mode without storage: the actor lasts for this page only.
  }
  window.dispatchEvent(new CustomEvent('weft:actor', { detail: actor }));
  return actor;
}

export function isAbort(error) {
  return error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

export async function api(path, { method = 'GET', body, headers = {}, signal } = {}) {
  const init = { method, signal, headers: { Accept: 'application/json', 'X-Weft-Actor': getActor(), ...headers } };
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof Blob || body instanceof FormData || body instanceof ArrayBuffer) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      if (!Object.keys(init.headers).some((h) => h.toLowerCase() === 'content-type')) {
        init.headers['Content-Type'] = 'application/json';
      }
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError(0, 0, `Cannot reach the server (${error.message || error})`, null);
  }
  const text = await response.text();
  const type = response.headers.get('content-type') || '';
  let parsed = text;
  if (text === '') {
    parsed = null;
  } else if (type.includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const code = parsed && typeof parsed === 'object' && parsed.error_code !== undefined ? parsed.error_code : response.status;
    const message =
      (parsed && typeof parsed === 'object' && parsed.message) ||
      (typeof parsed === 'string' && parsed.trim()) ||
      `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, code, message, parsed);
  }
  return parsed;
}

// Encodes one path segment (product ids contain dots, which are fine; names may contain anything).
export function seg(value) {
  return encodeURIComponent(String(value));
}
