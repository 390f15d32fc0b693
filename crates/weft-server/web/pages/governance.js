// Governance (/governance): the global policies (GET /api/v1/governance/policies; a form for platform
// admins, read-only for everyone else, PUT to change), policy violations across the mesh, contract
// failures per product (GET /api/v1/governance/dead-letters, one call), and the audit log of every
// catalog change. The violations are the server's (GET /api/v1/governance/violations, one call,
// freshness and global policies included): this page only shows them.
//
// Stable hooks for the end-to-end tests (besides roles and labels):
//   data-testid="governance-summary"    the counts; each <div data-testid="summary-<kind>"> holds a number
//   data-testid="violations"            the list; one <li data-testid="violation" data-kind=KIND data-id=PRODUCT>
//                                       KIND: cannot-publish | past-sunset | deprecated-input | stale |
//                                             missing-recommended | required-metadata |
//                                             minimum-compatibility | classification | naming |
//                                             contract-required; data-blocks="true|false"
//   data-testid="policies-form"         the policies; data-editable="true|false"; data-version=N
//     fieldset data-testid="policy-KEY"  KEY: requiredMetadata | minimumCompatibility | classification |
//                                        naming | contractRequired; its checkbox labelled "Enforce ..."
//     data-testid="policies-save"       saves (admins only); data-testid="policies-message" data-kind=ok|error
//   data-testid="contract-failures"     one <li data-testid="contract-failure" data-id=PRODUCT
//                                       data-unresolved=N> per product with a contract or dead letters
//   data-testid="contracts-empty"       the contract failures empty state
//   data-testid="audit-log"             the audit table; one <tr data-testid="audit-entry" data-offset=N>
//   data-testid="audit-more"            loads older entries
//   filters: <select> labelled "Domain" (violations); <input> labelled "Actor" and <select> labelled
//            "Domain changed" (audit log)

import { api, authenticated, currentSession } from '../lib/api.js';
import { h, clear, fmtAgo, fmtTime, ensureStyle } from '../lib/dom.js';
import { describeEvent } from './manage.js';
import { badge, statusBadge, skeleton, emptyState } from '../lib/ui.js';

const KINDS = {
  'cannot-publish': { title: 'Drafts that cannot be published', hint: 'The catalog refuses to publish them until these are fixed.' },
  'past-sunset': { title: 'Deprecated past their sunset date', hint: 'Consumers were told to leave by now: retire them.' },
  'deprecated-input': { title: 'Reading a deprecated or retired product', hint: 'Move them to the successor before the sunset.' },
  stale: { title: 'Missing their freshness objective', hint: 'The newest record is older than the product promises.' },
  'missing-recommended': { title: 'Published without recommended metadata', hint: 'Consumers need these to trust and use a product.' },
  'required-metadata': { title: 'Missing metadata a policy requires', hint: 'The global policy requiredMetadata.' },
  'minimum-compatibility': { title: 'Subjects below the minimum compatibility', hint: 'The global policy minimumCompatibility holds published subjects to it anyway.' },
  classification: { title: 'Classified fields without restricted access', hint: 'The global policy classification: set the custom property access: restricted.' },
  naming: { title: 'Names against the conventions', hint: 'The global policy naming.' },
  'contract-required': { title: 'Ports without a required contract', hint: 'The global policy contractRequired.' },
};

const METADATA_FIELDS = ['description', 'documentation', 'qualityTier', 'slaTier', 'freshnessObjective', 'tags', 'owner'];
const LEVELS = ['BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'];
const TIERS = ['raw', 'curated', 'authoritative'];
const POLICIES = {
  requiredMetadata: 'Required metadata to publish',
  minimumCompatibility: 'Minimum compatibility of published subjects',
  classification: 'Classifications that need restricted access',
  naming: 'Naming conventions',
  contractRequired: 'Data contract required by quality tier',
};

export async function render(root, params, ctx) {
  ensureStyle('/ui/pages/governance.css');
  ctx.setTitle('Governance');
  const controller = new AbortController();
  const signal = ctx.signal || controller.signal;

  const domainFilter = h('select', { id: 'gov-domain', class: 'input' }, h('option', { value: '' }, 'All domains'));
  const summary = h('div', { class: 'gov-summary', 'data-testid': 'governance-summary' });
  const violations = h('div', { class: 'gov-violations' }, skeleton('lines', 4));
  const policiesBox = h('div', { class: 'gov-policies' }, skeleton('lines', 3));
  const failuresBox = h('div', { class: 'gov-failures' }, skeleton('lines', 2));
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
          h('a', { href: '#policies' }, 'Policies'),
          h('a', { href: '#violations' }, 'Policy violations'),
          h('a', { href: '#contracts' }, 'Contract failures'),
          h('a', { href: '#audit' }, 'Audit log'),
        ),
      ),
    ),
    h(
      'section',
      { id: 'policies', class: 'gov-section', 'aria-labelledby': 'policies-title' },
      h('h2', { id: 'policies-title' }, 'Global policies'),
      h('p', { class: 'hint' }, 'Set by platform admins, evaluated by the server: a blocking policy refuses publication (the minimum compatibility refuses breaking schemas), a warning only lists.'),
      policiesBox,
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
      h('h2', { id: 'contracts-title' }, 'Contract failures'),
      h('p', { class: 'hint' }, 'Per product with a data contract or dead letters: the records waiting in its dead letters, by the rule they broke. Replay or drop them on the product page.'),
      failuresBox,
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
                { 'data-testid': 'violation', 'data-kind': kind, 'data-id': f.product, 'data-blocks': String(Boolean(f.blocks)) },
                h(
                  'div',
                  { class: 'gov-item-head' },
                  h('a', { href: `/manage/${encodeURIComponent(f.product)}` }, f.name),
                  ' ',
                  h('span', { class: 'mono muted' }, f.product),
                  ' ',
                  statusBadge(f.status),
                  f.enforcement ? badge(f.blocks ? 'blocks' : f.enforcement, f.blocks ? 'error' : 'warn') : null,
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

  // ----- policies -----
  async function loadPolicies() {
    try {
      paintPolicies(await api('/api/v1/governance/policies', { signal }));
    } catch (e) {
      if (signal.aborted) return;
      clear(policiesBox);
      policiesBox.append(h('div', { class: 'alert alert--error', role: 'alert' }, `Cannot load the policies: ${e.message}`));
    }
  }

  function enforcementSelect(key, value, editable) {
    const select = h(
      'select',
      { id: `policy-${key}-enforcement`, class: 'input', disabled: !editable },
      h('option', { value: 'block' }, 'Block'),
      h('option', { value: 'warn' }, 'Warn only'),
    );
    select.value = value || 'block';
    return h('div', { class: 'field field-inline' }, h('label', { for: `policy-${key}-enforcement` }, 'Enforcement'), select);
  }

  function checkboxes(name, options, chosen, editable) {
    return h(
      'div',
      { class: 'gov-checks', role: 'group', 'aria-label': name },
      ...options.map((option) =>
        h(
          'label',
          { class: 'gov-check' },
          h('input', { type: 'checkbox', name, value: option, checked: chosen.includes(option), disabled: !editable }),
          ` ${option}`,
        ),
      ),
    );
  }

  function textField(id, label, value, editable, placeholder = '') {
    return h(
      'div',
      { class: 'field field-inline' },
      h('label', { for: id }, label),
      h('input', { id, class: 'input mono', type: 'text', value: value || '', placeholder, disabled: !editable }),
    );
  }

  function paintPolicies(answer) {
    const { policies, editable, version } = answer;
    clear(policiesBox);
    const body = {
      requiredMetadata: () => checkboxes('requiredMetadata-fields', METADATA_FIELDS, policies.requiredMetadata?.fields || [], editable),
      minimumCompatibility: () => {
        const select = h('select', { id: 'policy-minimumCompatibility-level', class: 'input', disabled: !editable }, ...LEVELS.map((l) => h('option', { value: l }, l)));
        select.value = policies.minimumCompatibility?.level || 'BACKWARD';
        return h('div', { class: 'field field-inline' }, h('label', { for: 'policy-minimumCompatibility-level' }, 'Level'), select);
      },
      classification: () => textField('policy-classification-restricted', 'Classifications (comma-separated)', (policies.classification?.restricted || ['pii']).join(', '), editable),
      naming: () =>
        h(
          'div',
          {},
          textField('policy-naming-productId', 'Product ids match', policies.naming?.productId, editable, '[a-z]+\\.[a-z0-9-]+'),
          textField('policy-naming-topic', 'Topics match', policies.naming?.topic, editable, '[a-z0-9._-]+'),
        ),
      contractRequired: () => checkboxes('contractRequired-tiers', TIERS, policies.contractRequired?.qualityTiers || [], editable),
    };
    const form = h('form', { class: 'panel gov-policy-form', 'data-testid': 'policies-form', 'data-editable': String(editable), 'data-version': String(version), novalidate: true });
    for (const [key, title] of Object.entries(POLICIES)) {
      const on = Boolean(policies[key]);
      form.append(
        h(
          'fieldset',
          { class: on ? 'gov-policy gov-policy-on' : 'gov-policy', 'data-testid': `policy-${key}`, 'data-field': key },
          h('legend', {}, h('label', {}, h('input', { type: 'checkbox', id: `policy-${key}-on`, checked: on, disabled: !editable, 'aria-label': `Enforce ${title}` }), ` ${title}`)),
          body[key](),
          enforcementSelect(key, policies[key]?.enforcement, editable),
          h('p', { class: 'field-error', 'data-testid': `policy-error-${key}`, 'aria-live': 'polite' }),
        ),
      );
    }
    const message = h('p', { class: 'form-message', 'data-testid': 'policies-message', 'aria-live': 'polite' });
    const by = version ? `Version ${version}, set by ${answer.principal} ${fmtAgo(answer.at)}.` : 'No policy set yet.';
    form.append(h('p', { class: 'muted' }, by, editable ? '' : ' Only platform admins change them (act as admin).'));
    if (editable) {
      form.append(h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'policies-save' }, 'Save policies')), message);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
        message.textContent = 'Saving…';
        message.dataset.kind = '';
        try {
          paintPolicies(await api(`/api/v1/governance/policies?ifVersion=${version}`, { method: 'PUT', body: readPolicies(form) }));
          const saved = policiesBox.querySelector('[data-testid="policies-message"]');
          saved.textContent = 'Saved: the violations below are evaluated against them.';
          saved.dataset.kind = 'ok';
          loadViolations();
        } catch (e) {
          const field = e.body && e.body.field;
          const key = field && field.split(/[.[]/)[0];
          const slot = key && form.querySelector(`[data-testid="policy-error-${key}"]`);
          if (slot) slot.textContent = e.message;
          message.textContent = e.message;
          message.dataset.kind = 'error';
        }
      });
    }
    policiesBox.append(form);
  }

  function readPolicies(form) {
    const value = (id) => form.querySelector(`#${id}`).value.trim();
    const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
    const document = {};
    for (const key of Object.keys(POLICIES)) {
      if (!form.querySelector(`#policy-${key}-on`).checked) continue;
      const enforcement = value(`policy-${key}-enforcement`);
      if (key === 'requiredMetadata') document[key] = { fields: checked('requiredMetadata-fields'), enforcement };
      if (key === 'minimumCompatibility') document[key] = { level: value('policy-minimumCompatibility-level'), enforcement };
      if (key === 'classification') {
        document[key] = { restricted: value('policy-classification-restricted').split(',').map((c) => c.trim()).filter(Boolean), enforcement };
      }
      if (key === 'naming') {
        const naming = { enforcement };
        if (value('policy-naming-productId')) naming.productId = value('policy-naming-productId');
        if (value('policy-naming-topic')) naming.topic = value('policy-naming-topic');
        document[key] = naming;
      }
      if (key === 'contractRequired') document[key] = { qualityTiers: checked('contractRequired-tiers'), enforcement };
    }
    return document;
  }

  // ----- contract failures -----
  async function loadFailures() {
    try {
      paintFailures(await api('/api/v1/governance/dead-letters', { signal }));
    } catch (e) {
      if (signal.aborted) return;
      clear(failuresBox);
      failuresBox.append(h('div', { class: 'alert alert--error', role: 'alert' }, `Cannot load the contract failures: ${e.message}`));
    }
  }

  function paintFailures({ products }) {
    clear(failuresBox);
    if (!products.length) {
      failuresBox.append(
        h('div', { 'data-testid': 'contracts-empty' }, emptyState('No contract failures', 'No product has a data contract attached or a record in its dead letters.')),
      );
      return;
    }
    failuresBox.append(
      h(
        'ul',
        { class: 'gov-list', 'data-testid': 'contract-failures' },
        ...products.map((p) =>
          h(
            'li',
            { 'data-testid': 'contract-failure', 'data-id': p.product, 'data-unresolved': String(p.unresolved) },
            h(
              'div',
              { class: 'gov-item-head' },
              h('a', { href: `/products/${encodeURIComponent(p.product)}` }, p.name),
              ' ',
              h('span', { class: 'mono muted' }, p.product),
              ' ',
              p.unresolved ? badge(`${p.unresolved} unresolved`, 'error') : badge('no unresolved dead letter', 'ok'),
              h('span', { class: 'muted' }, ` · ${p.total} dead letter${p.total === 1 ? '' : 's'} in all · owner ${p.owner}`),
            ),
            h(
              'ul',
              { class: 'gov-details' },
              h('li', {}, p.contracts.length ? `Contract ${p.contracts.join(', ')}` : 'No contract: schema checks only'),
              ...Object.entries(p.by_rule).map(([rule, n]) => h('li', { 'data-rule': rule }, h('span', { class: 'mono' }, rule), `: ${n} unresolved`)),
            ),
          ),
        ),
      ),
    );
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
  loadPolicies();
  loadViolations();
  loadFailures();
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
  // ----- security audit, live (platform admins) -----
  // Every change and every refused request, from GET /api/v1/audit, then as it happens from its
  // server-sent events; shown to admins only (the server refuses the others anyway).
  let feed = null;
  const identity = currentSession().identity;
  if (authenticated() && identity && identity.admin) {
    const liveBody = h('tbody', {});
    const liveRow = (e) => h('tr', { 'data-testid': 'security-audit-entry', 'data-outcome': e.outcome },
      h('td', { title: fmtTime(e.at) }, fmtAgo(e.at)), h('td', { class: 'mono' }, e.principal),
      h('td', { class: 'mono' }, e.action), h('td', { class: 'mono' }, e.object),
      h('td', {}, badge(e.outcome, e.outcome === 'ok' ? 'success' : e.outcome === 'refused' ? 'danger' : 'warning')));
    root.append(h('section', { id: 'security-audit', class: 'gov-section', 'aria-labelledby': 'security-audit-title' },
      h('h2', { id: 'security-audit-title' }, 'Security audit (live)'),
      h('p', { class: 'hint' }, 'Every change and every refused request across the API, newest first; new ones appear as they happen.'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table table-responsive', 'data-testid': 'security-audit' },
        h('thead', {}, h('tr', {}, ...['When', 'Who', 'What', 'On', 'Outcome'].map((t) => h('th', { scope: 'col' }, t)))),
        liveBody))));
    api('/api/v1/audit?limit=30', { signal }).then((page) => {
      for (const e of page.entries) liveBody.append(liveRow(e));
      feed = new EventSource('/api/v1/audit/stream');
      feed.onmessage = (event) => {
        try {
          liveBody.insertBefore(liveRow(JSON.parse(event.data)), liveBody.firstChild);
          while (liveBody.children.length > 200) liveBody.removeChild(liveBody.lastChild);
        } catch {
          // An entry that does not parse is skipped; the next one carries on.
        }
      };
    }, () => {});
  }

  // After the shell's scroll to the top of a new page: honour a link to one section (#audit).
  const section = location.hash && document.getElementById(location.hash.slice(1));
  if (section) setTimeout(() => section.scrollIntoView(), 0);

  return () => {
    clearTimeout(actorTimer);
    controller.abort();
    if (feed) feed.close();
  };
}
