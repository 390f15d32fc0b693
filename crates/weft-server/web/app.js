// The shell: a History API router that loads one page module per URL, highlights the nav, keeps the
// actor selector, and catches a page's failure so the rest of the app keeps working.
//
// Page modules: `export async function render(root, params, ctx)`; root is the emptied <main>, params
// the decoded path parameters plus `query` (URLSearchParams), ctx = {navigate(path, {replace}),
// setTitle(text), signal (aborted when the page is left)}. render may return a cleanup function.

import { getActor, setActor, loadSession, signIn, signOut, authenticated, currentSession } from './lib/api.js';
import { h, clear, toast } from './lib/dom.js';

// The one list of the app's pages. The server keeps none: it answers index.html to a browser asking
// for any path outside its own (/api, /registry, /ui...), and this router renders the page, or the
// "page not found" view.
const ROUTES = [
  { pattern: /^\/$/, page: 'explore', nav: 'explore' },
  { pattern: /^\/explore\/?$/, page: 'explore', nav: 'explore' },
  { pattern: /^\/products\/([^/]+)\/?$/, page: 'product', nav: 'explore', keys: ['id'] },
  { pattern: /^\/create\/?$/, page: 'create', nav: 'create' },
  { pattern: /^\/manage\/?$/, page: 'manage', nav: 'manage' },
  { pattern: /^\/manage\/([^/]+)\/?$/, page: 'manage', nav: 'manage', keys: ['id'] },
  { pattern: /^\/domains\/?$/, page: 'domains', nav: 'domains' },
  { pattern: /^\/domains\/([^/]+)\/?$/, page: 'domains', nav: 'domains', keys: ['name'] },
  { pattern: /^\/governance\/?$/, page: 'governance', nav: 'governance' },
  { pattern: /^\/access\/?$/, page: 'access', nav: 'access' },
];

const main = document.getElementById('main');
let current = null; // {cleanup, controller}
let generation = 0;
let firstRender = true;

function match(pathname) {
  for (const route of ROUTES) {
    const found = route.pattern.exec(pathname);
    if (found) {
      const params = {};
      (route.keys || []).forEach((key, i) => {
        try {
          params[key] = decodeURIComponent(found[i + 1]);
        } catch {
          params[key] = found[i + 1];
        }
      });
      return { route, params };
    }
  }
  return null;
}

function highlightNav(nav) {
  for (const link of document.querySelectorAll('.site-nav a[data-nav]')) {
    if (link.dataset.nav === nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function setTitle(text) {
  document.title = text ? `${text} · Weft` : 'Weft';
}

function leave() {
  if (!current) return;
  current.controller.abort();
  if (typeof current.cleanup === 'function') {
    try {
      current.cleanup();
    } catch (error) {
      console.warn('page cleanup failed', error);
    }
  }
  current = null;
}

function showFailure(title, error) {
  clear(main);
  main.appendChild(h('div', { class: 'page-header' }, h('h1', null, title)));
  main.appendChild(h('div', { class: 'alert alert--error', role: 'alert', 'data-testid': 'page-error' },
    h('p', { class: 'alert__title' }, 'This page failed to load'),
    h('p', null, (error && error.message) || String(error)),
    h('p', { style: { margin: 0 } },
      h('button', { type: 'button', class: 'btn btn--small', onclick: () => render() }, 'Try again'), ' ',
      h('a', { href: '/explore', class: 'btn btn--small btn--ghost' }, 'Go to Explore'))));
}

async function render() {
  const token = ++generation;
  leave();
  const url = new URL(window.location.href);
  const found = match(url.pathname);
  clear(main);
  if (!found) {
    highlightNav(null);
    setTitle('Not found');
    main.appendChild(h('div', { class: 'page-header' }, h('h1', null, 'Page not found')));
    main.appendChild(h('div', { class: 'empty', 'data-testid': 'not-found' },
      h('p', { class: 'empty__title' }, `Nothing lives at ${url.pathname}`),
      h('p', null, h('a', { href: '/explore' }, 'Explore the data products'))));
    return;
  }
  const { route, params } = found;
  params.query = url.searchParams;
  if (authenticated() && !currentSession().signedIn) {
    highlightNav(null);
    setTitle('Sign in');
    renderSignIn();
    return;
  }
  highlightNav(route.nav);
  const controller = new AbortController();
  current = { controller, cleanup: null };
  const ctx = { navigate, setTitle, signal: controller.signal };
  try {
    const module = await import(`./pages/${route.page}.js`);
    if (token !== generation) return;
    const cleanup = await module.render(main, params, ctx);
    if (token !== generation) {
      if (typeof cleanup === 'function') cleanup();
      return;
    }
    current.cleanup = cleanup;
  } catch (error) {
    if (token !== generation || controller.signal.aborted) return;
    console.error(error);
    showFailure(route.page[0].toUpperCase() + route.page.slice(1), error);
  }
  if (!firstRender) {
    // Move focus to the new page for screen readers and keyboard users, as a full load would.
    const heading = main.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    } else {
      main.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }
  firstRender = false;
}

export function navigate(path, { replace = false } = {}) {
  const target = new URL(path, window.location.href);
  if (target.origin !== window.location.origin) {
    window.location.assign(target.href);
    return;
  }
  const href = target.pathname + target.search + target.hash;
  if (replace) window.history.replaceState(null, '', href);
  else window.history.pushState(null, '', href);
  render();
}

// Same-origin links to pages (ROUTES) go through the router; anything else (files, the API, exports)
// and modified clicks are left to the browser.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest && event.target.closest('a[href]');
  if (!link || link.hasAttribute('download')) return;
  // SVG links (the lineage graph) have SVGAnimatedString href/target properties: read the attributes.
  const target = link.getAttribute('target');
  if (target && target !== '_self') return;
  const url = new URL(link.getAttribute('href'), window.location.href);
  if (url.origin !== window.location.origin) return;
  if (url.pathname === window.location.pathname && url.search === window.location.search && url.hash) return;
  if (!match(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => render());

window.addEventListener('unhandledrejection', (event) => {
  const reason = event.reason;
  if (reason && (reason.name === 'AbortError' || reason.name === 'TimeoutError')) {
    event.preventDefault();
    return;
  }
  toast(`Something went wrong: ${(reason && reason.message) || reason}`, 'error');
});

// Signing in with an API token (the server keeps the session in an HttpOnly cookie).
function renderSignIn() {
  const input = h('input', { id: 'signin-token', type: 'password', autocomplete: 'current-password', spellcheck: 'false',
    required: true, 'data-testid': 'signin-token', placeholder: 'weft_…' });
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'signin-error' });
  const form = h('form', { class: 'card signin', 'data-testid': 'signin-form' },
    h('label', { for: 'signin-token' }, 'API token'), input, error,
    h('p', null, h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'signin-submit' }, 'Sign in')),
    h('p', { class: 'muted' }, 'A token from `weft token create`, from your platform admin, or the ones `weft demo` prints.'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      const answer = await signIn(input.value);
      toast(`Signed in as ${answer.identity.name}`, 'info');
      updateSessionBar();
      render();
    } catch (e) {
      error.textContent = e.message;
    }
  });
  main.appendChild(h('div', { class: 'page-header' }, h('h1', null, 'Sign in to Weft')));
  const issuer = currentSession().oidcIssuer;
  if (issuer) {
    // The organisation's identity provider (authorization code with PKCE; the server does the exchange).
    main.appendChild(h('p', null, h('a', { class: 'btn btn--primary', href: '/api/v1/session/oidc', 'data-testid': 'signin-oidc' },
      'Sign in with your organisation'), ' ', h('span', { class: 'muted' }, `(${issuer})`)));
  }
  main.appendChild(form);
  input.focus();
}

// The header on a server with authentication: who is signed in, and a sign-out button.
function updateSessionBar() {
  const form = document.getElementById('actor-form');
  if (!form) return;
  clear(form);
  const current = currentSession();
  if (current.signedIn) {
    const who = current.identity;
    form.appendChild(h('span', { class: 'actor__who', 'data-testid': 'signed-in-as' },
      `Signed in as ${who.name}${who.admin ? ' (admin)' : ''}`));
    form.appendChild(h('button', { type: 'button', class: 'btn btn--small btn--ghost', 'data-testid': 'sign-out',
      onclick: async () => {
        // The page's requests end first: answered after the sign-out, they would be refused.
        leave();
        await signOut();
        updateSessionBar();
        render();
      } }, 'Sign out'));
  } else {
    form.appendChild(h('span', { class: 'actor__who' }, 'Not signed in'));
  }
}

// The actor selector of a development server without authentication: who the UI acts as (sent as
// X-Weft-Actor). Changing it re-renders the page.
function setupActor() {
  const form = document.getElementById('actor-form');
  const input = document.getElementById('actor-input');
  if (!form || !input) return;
  input.value = getActor();
  const commit = () => {
    const name = input.value.trim();
    if (!name) {
      input.value = getActor();
      return;
    }
    if (name === getActor()) return;
    setActor(name);
    toast(`Now acting as ${name}`, 'info');
    render();
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    commit();
  });
  input.addEventListener('change', commit);
  window.addEventListener('weft:actor', (event) => {
    if (input.value !== event.detail) input.value = event.detail;
  });
  // Suggest the people the catalog knows: domain members.
  fetch('/api/v1/domains', { headers: { Accept: 'application/json' } })
    .then((response) => (response.ok ? response.json() : null))
    .then((body) => {
      if (!body) return;
      const list = document.getElementById('actor-suggestions');
      const names = new Set(['admin']);
      for (const domain of body.domains || []) for (const member of (domain.spec || domain).members || []) names.add(member.user);
      for (const name of [...names].sort()) list.appendChild(h('option', { value: name }));
    })
    .catch(() => {});
}

loadSession()
  .catch(() => null)
  .then(() => {
    if (authenticated()) updateSessionBar();
    else setupActor();
    render();
  });
