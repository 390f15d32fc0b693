// The one way the UI talks to the server.
//
//   api(path, {method, body, headers, signal}) -> parsed JSON (or text, or null for an empty body)
//   throws ApiError {status, code, message, body} built from the server's error shapes:
//   {"error_code","message"} (REST API, registry) and ksqlDB's {"@type","error_code","message",...}.
//   A network failure is ApiError with status 0; an aborted request rethrows the AbortError
//   (check with isAbort(e) and ignore it).
// Signing in: on a server with authentication (the default), loadSession() asks who is signed in; the
// session is an HttpOnly cookie the page never sees, and every change carries the session's CSRF token
// (X-Weft-CSRF). getActor() is then the signed-in name. On a development server without
// authentication, requests carry X-Weft-Actor = getActor() (localStorage "weft.actor", default
// "admin") instead.

const ACTOR_KEY = 'weft.actor';
const DEFAULT_ACTOR = 'admin';

// {signedIn, identity, csrfToken, auth} from GET /api/v1/session.
let session = { auth: 'tokens', signedIn: false, identity: null, csrfToken: null };

export function currentSession() {
  return session;
}

export function authenticated() {
  return session.auth !== 'none';
}

export async function loadSession() {
  const response = await fetch('/api/v1/session', { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  session = response.ok ? await response.json() : { auth: 'tokens', signedIn: false };
  return session;
}

export async function signIn(token) {
  const response = await fetch('/api/v1/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: String(token || '').trim() }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.error_code || response.status, body.message || 'Sign-in failed', body);
  session = body;
  window.dispatchEvent(new CustomEvent('weft:actor', { detail: body.identity.name }));
  return body;
}

export async function signOut() {
  await fetch('/api/v1/session', { method: 'DELETE', credentials: 'same-origin', headers: { 'X-Weft-CSRF': session.csrfToken || '' } });
  session = { auth: session.auth, signedIn: false, identity: null, csrfToken: null };
}

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/// Whether the signed-in user may change `domain`'s products, as the server decides it: a platform
/// admin, a member listed in the domain, or a member of its owning team. (The server refuses anyway;
/// this only keeps pages from offering what would be refused.) On a development server without
/// authentication: the admin, the domain's owners, or `owner` when given (a product's owner).
export function mayChangeDomain(domain, owner) {
  const spec = (domain && (domain.spec || domain)) || {};
  const members = spec.members || [];
  if (!authenticated()) {
    const actor = getActor();
    return actor === 'admin' || actor === owner || members.some((m) => m.user === actor && m.role === 'owner');
  }
  const who = session.identity;
  if (!who) return false;
  return who.admin || members.some((m) => m.user === who.name) || (who.teams || []).includes(spec.owningTeam);
}

export function getActor() {
  if (authenticated()) return (session.identity && session.identity.name) || 'anonymous';
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
  const base = { Accept: 'application/json' };
  if (!authenticated()) base['X-Weft-Actor'] = getActor();
  else if (method !== 'GET' && method !== 'HEAD' && session.csrfToken) base['X-Weft-CSRF'] = session.csrfToken;
  const init = { method, signal, credentials: 'same-origin', headers: { ...base, ...headers } };
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
