// Governance (/governance): policy violations across the mesh, contract failures and dead letters (an
// honest empty state until governance lands), and the audit log of every catalog change. The
// violations are the server's (GET /api/v1/governance/violations, one call, freshness included): this
// page only shows them.
//
// Stable hooks for the end-to-end tests (besides roles and labels):
//   data-testid="governance-summary"    the counts; each <div data-testid="summary-<kind>"> holds a number
//   data-testid="violations"            the list; one <li data-testid="violation" data-kind=KIND data-id=PRODUCT>
//                                       KIND: cannot-publish | past-sunset | deprecated-input | stale |
//                                             missing-recommended
//   data-testid="contracts-empty"       the contract failures / dead letters empty state
//   data-testid="audit-log"             the audit table; one <tr data-testid="audit-entry" data-offset=N>
//   data-testid="audit-more"            loads older entries
//   filters: <select> labelled "Domain" (violations); <input> labelled "Actor" and <select> labelled
//            "Domain changed" (audit log)

import { api } from '../lib/api.js';
import { h, clear, fmtAgo, fmtTime, ensureStyle } from '../lib/dom.js';
import { describeEvent } from './manage.js';
import { statusBadge, skeleton, emptyState } from '../lib/ui.js';

const KINDS = {
  'cannot-publish': { title: 'Drafts that cannot be published', hint: 'The catalog refuses to publish them until these are fixed.' },
  'past-sunset': { title: 'Deprecated past their sunset date', hint: 'Consumers were told to leave by now: retire them.' },
  'deprecated-input': { title: 'Reading a deprecated or retired product', hint: 'Move them to the successor before the sunset.' },
  stale: { title: 'Missing their freshness objective', hint: 'The newest record is older than the product promises.' },
  'missing-recommended': { title: 'Published without recommended metadata', hint: 'Consumers need these to trust and use a product.' },
};

export async function render(root, params, ctx) {
  ensureStyle('/ui/pages/governance.css');
  ctx.setTitle('Governance');
  const controller = new AbortController();
  const signal = ctx.signal || controller.signal;

  const domainFilter = h('select', { id: 'gov-domain', class: 'input' }, h('option', { value: '' }, 'All domains'));
  const summary = h('div', { class: 'gov-summary', 'data-testid': 'governance-summary' });
  const violations = h('div', { class: 'gov-violations' }, skeleton('lines', 4));
  const auditActor = h('input', { id: 'audit-actor', class: 'input', type: 'search', placeholder: 'anyone' });
  const auditDomain = h('select', { id: 'audit-domain', class: 'input' }, h('option', { value: '' }, 'All domains'));
  const auditBody = h('tbody', {});
  const auditStatus = h('p', { class: 'muted', 'aria-live': 'polite' });
  const moreButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'audit-more', hidden: true }, 'Load older changes');

  clear(root);
  root.append(
    h(
      'div',
      { class: 'page-header' },
      h(
        'div',
        {},
        h('h1', {}, 'Governance'),
        h('p', { class: 'lead' }, 'What needs attention across the mesh, and who changed what.'),
        h(
          'nav',
          { class: 'gov-jump', 'aria-label': 'Sections' },
          h('a', { href: '#violations' }, 'Policy violations'),
          h('a', { href: '#contracts' }, 'Contracts and dead letters'),
          h('a', { href: '#audit' }, 'Audit log'),
        ),
      ),
    ),
    h(
      'section',
      { id: 'violations', class: 'gov-section', 'aria-labelledby': 'violations-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'violations-title' }, 'Policy violations'),
        h('div', { class: 'field field-inline' }, h('label', { for: 'gov-domain' }, 'Domain'), domainFilter),
      ),
      summary,
      violations,
    ),
    h(
      'section',
      { id: 'contracts', class: 'gov-section', 'aria-labelledby': 'contracts-title' },
      h('h2', { id: 'contracts-title' }, 'Contract failures and dead letters'),
      h(
        'div',
        { class: 'empty', 'data-testid': 'contracts-empty' },
        h('p', { class: 'empty__title' }, 'Nothing to show yet: data contracts are not enforced in this version.'),
        h(
          'p',
          {},
          'Weft registers each output port’s schema and refuses to publish without one, but it does not yet check records against a data contract on the way in, so no record has failed one and nothing has gone to a dead-letter topic. ',
          'When contract enforcement arrives (the governance component), records that fail their product’s contract will be listed here with the rule they broke, next to their dead-letter topic, so owners can replay or drop them.',
        ),
      ),
    ),
    h(
      'section',
      { id: 'audit', class: 'gov-section', 'aria-labelledby': 'audit-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'audit-title' }, 'Audit log'),
        h(
          'div',
          { class: 'filters' },
          h('div', { class: 'field field-inline' }, h('label', { for: 'audit-actor' }, 'Actor'), auditActor),
          h('div', { class: 'field field-inline' }, h('label', { for: 'audit-domain' }, 'Domain changed'), auditDomain),
        ),
      ),
      h('p', { class: 'hint' }, 'Every change to a domain or product, newest first, as recorded in the catalog’s log.'),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table table-responsive', 'data-testid': 'audit-log' },
          h('caption', { class: 'visually-hidden' }, 'Audit log'),
          h('thead', {}, h('tr', {}, ...['When', 'Who', 'What', 'Change'].map((t) => h('th', { scope: 'col' }, t)))),
          auditBody,
        ),
      ),
      auditStatus,
      moreButton,
    ),
  );

  // ----- violations -----
  let violationsAbort = null;
  async function loadViolations() {
    if (violationsAbort) violationsAbort.abort();
    const mine = new AbortController();
    violationsAbort = mine;
    signal.addEventListener('abort', () => mine.abort());
    const domain = domainFilter.value;
    violations.setAttribute('aria-busy', 'true');
    try {
      const answer = await api(`/api/v1/governance/violations${domain ? `?domain=${encodeURIComponent(domain)}` : ''}`, { signal: mine.signal });
      paintViolations(answer, domain);
    } catch (e) {
      if (mine.signal.aborted) return;
      clear(summary);
      clear(violations);
      violations.append(h('div', { class: 'alert alert--error', role: 'alert' }, `Cannot load the policy violations: ${e.message}`));
    } finally {
      violations.removeAttribute('aria-busy');
    }
  }

  function paintViolations({ violations: found, counts }, domain) {
    clear(summary);
    for (const [kind, meta] of Object.entries(KINDS)) {
      const count = counts[kind] || 0;
      summary.append(
        h(
          'div',
          { class: count ? 'gov-count gov-count-bad' : 'gov-count', 'data-testid': `summary-${kind}` },
          h('span', { class: 'gov-count-number' }, String(count)),
          h('span', { class: 'gov-count-label' }, meta.title),
        ),
      );
    }
    clear(violations);
    if (!found.length) {
      violations.append(
        h('div', { 'data-testid': 'violations' }, emptyState(`No policy violation${domain ? ` in ${domain}` : ''}`, 'Every product meets its requirements and recommendations.')),
      );
      return;
    }
    const list = h('div', { 'data-testid': 'violations' });
    // The server's kinds, in its order; a kind this page has no title for is still shown.
    const kinds = [...new Set(found.map((f) => f.kind))];
    for (const kind of kinds) {
      const meta = KINDS[kind] || { title: kind, hint: '' };
      const items = found.filter((f) => f.kind === kind);
      list.append(
        h(
          'section',
          { class: 'panel gov-group', 'aria-label': meta.title },
          h('h3', {}, `${meta.title} (${items.length})`),
          meta.hint ? h('p', { class: 'hint' }, meta.hint) : null,
          h(
            'ul',
            { class: 'gov-list' },
            ...items.map((f) =>
              h(
                'li',
                { 'data-testid': 'violation', 'data-kind': kind, 'data-id': f.product },
                h(
                  'div',
                  { class: 'gov-item-head' },
                  h('a', { href: `/manage/${encodeURIComponent(f.product)}` }, f.name),
                  ' ',
                  h('span', { class: 'mono muted' }, f.product),
                  ' ',
                  statusBadge(f.status),
                  h('span', { class: 'muted' }, ` · owner ${f.owner}`),
                ),
                h('ul', { class: 'gov-details' }, ...f.details.filter(Boolean).map((d) => h('li', {}, d))),
              ),
            ),
          ),
        ),
      );
    }
    violations.append(list);
  }

  // ----- audit log -----
  let next = null;
  let auditAbort = null;
  async function loadAudit(reset) {
    if (auditAbort) auditAbort.abort();
    const mine = new AbortController();
    auditAbort = mine;
    signal.addEventListener('abort', () => mine.abort());
    if (reset) {
      clear(auditBody);
      next = null;
    }
    const q = new URLSearchParams({ limit: '50' });
    if (!reset && next !== null) q.set('before', String(next));
    if (auditActor.value.trim()) q.set('actor', auditActor.value.trim());
    if (auditDomain.value) q.set('domain', auditDomain.value);
    auditStatus.textContent = 'Loading…';
    moreButton.hidden = true;
    try {
      const page = await api(`/api/v1/history?${q}`, { signal: mine.signal });
      for (const entry of page.history) auditBody.append(auditRow(entry));
      next = page.next === undefined ? null : page.next;
      moreButton.hidden = next === null;
      const shown = auditBody.children.length;
      auditStatus.textContent = shown
        ? `${shown} change${shown === 1 ? '' : 's'} shown${next === null ? ': the beginning of the history.' : '.'}`
        : 'No change matches.';
    } catch (e) {
      if (mine.signal.aborted) return;
      auditStatus.textContent = `Cannot load the audit log: ${e.message}`;
    }
  }

  function auditRow(entry) {
    const [kind, name] = entry.entity.split(/\/(.*)/s);
    const link = kind === 'product' ? `/products/${encodeURIComponent(name)}` : `/domains/${encodeURIComponent(name)}`;
    return h(
      'tr',
      { 'data-testid': 'audit-entry', 'data-offset': String(entry.offset) },
      h('td', { 'data-label': 'When' }, h('time', { datetime: new Date(entry.at).toISOString(), title: fmtTime(entry.at) }, fmtAgo(entry.at))),
      h('td', { 'data-label': 'Who' }, entry.actor),
      h('td', { 'data-label': 'What' }, h('span', { class: 'muted' }, `${kind} `), h('a', { href: link }, name)),
      h('td', { 'data-label': 'Change' }, describeEvent(entry)),
    );
  }

  moreButton.addEventListener('click', () => loadAudit(false));
  let actorTimer = null;
  auditActor.addEventListener('input', () => {
    clearTimeout(actorTimer);
    actorTimer = setTimeout(() => loadAudit(true), 300);
  });
  auditDomain.addEventListener('change', () => loadAudit(true));
  domainFilter.addEventListener('change', () => loadViolations());

  loadAudit(true);
  loadViolations();
  api('/api/v1/domains', { signal })
    .then(({ domains }) => {
      for (const d of domains) {
        domainFilter.append(h('option', { value: d.spec.name }, d.spec.name));
        auditDomain.append(h('option', { value: d.spec.name }, d.spec.name));
      }
    })
    .catch(() => {
      // Without the list the filters offer "All domains" only; the sections say what failed.
    });
  // After the shell's scroll to the top of a new page: honour a link to one section (#audit).
  const section = location.hash && document.getElementById(location.hash.slice(1));
  if (section) setTimeout(() => section.scrollIntoView(), 0);

  return () => {
    clearTimeout(actorTimer);
    controller.abort();
  };
}
