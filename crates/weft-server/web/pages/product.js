// Product page: everything about one data product, in tabs (?tab= keeps the tab in the URL).
//
// Data: GET /api/v1/products/{id}, /stats (records, freshness, throughput per minute, dead letters),
// /profile (the live profile: per field counts, distinct estimates, histograms, top values),
// /sample, /records/stream (live tail, SSE), /lineage/upstream + /lineage/downstream, /history,
// /schema (the output port's schema and its fields), the domain (members: who
// may manage), and the access API (/products/{id}/grants, /access-requests?product=) when it answers.
// /dead-letters (records that broke the port's rules, with replay and drop) and /governance (the port's
// policy). Contracts arrive with governance: the contract panel says so instead of showing rules.
// GET /api/v1/sql/sources (the streams and tables over the output port's topic) and POST /sql-source
// (declares the product's stream, on a click).
//
// data-testid hooks:
//   product-header, product-name (the <h1>), product-id, manage-link, request-access, deprecation-notice
//   stat-records, stat-freshness, stat-throughput, stat-dead-letters   (summary numbers)
//   tab-<overview|schema|data|profile|lineage|consumers|history>, panel-<same>
//   overview: product-description, product-documentation, product-props, output-ports, contract-panel,
//             sql-source (sql-source-item (data-name): sql-source-name, sql-source-query, and
//             sql-source-statement once declared here; sql-source-declare when there is none),
//             throughput-chart, dead-letters-panel (dead-letter-policy, dead-letter-row (data-offset),
//             dead-letters-replay, dead-letters-drop)
//   schema:   schema-table, schema-field (row; data-field = dotted name)
//   data:     live-tail, tail-toggle (Pause/Resume), tail-count, tail-records, tail-record (row), sample-table
//   profile:  profile-summary, profile-fields, field-profile (card; data-field), field-distinct
//   lineage:  lineage-graph (svg), lineage-node (svg <a>, data-id)
//   consumers: consumers-panel, grants-table, access-requests-table
//   history:  history-list, history-entry

import { api, isAbort, mayChangeDomain, seg } from '../lib/api.js';
import { h, svg, clear, ensureStyle, fmtAgo, fmtNumber, fmtTime, toast } from '../lib/dom.js';
import { openDialog } from '../lib/dialog.js';
import { statusBadge, tierBadge, slaBadge, badge, skeleton, emptyState, errorState, props, tabs } from '../lib/ui.js';
import { barChart, histogram, lineChart } from '../lib/charts.js';
import { openAccessRequestDialog } from './access.js';

const TABS = [
  ['overview', 'Overview'], ['schema', 'Schema'], ['data', 'Live data'], ['profile', 'Profile'],
  ['lineage', 'Lineage'], ['consumers', 'Consumers & access'], ['history', 'History'],
];
const TAIL_KEEP = 100;
// Dead letters listed in the side panel (the oldest; the CLI and API list them all).
const DEAD_SHOWN = 5;

export async function render(root, params, ctx) {
  ensureStyle('/ui/pages/product.css');
  const id = params.id;
  const base = `/api/v1/products/${seg(id)}`;
  const signal = ctx.signal;
  const cleanups = [];
  ctx.setTitle(id);

  const header = h('div', { class: 'page-header product-header', 'data-testid': 'product-header' },
    h('div', null, h('div', { class: 'skeleton skeleton--title', style: { width: '260px' } }), skeleton('lines', 1)));
  const stats = h('div', { class: 'stats product-stats' }, ['Records', 'Last record', 'Last hour', 'Dead letters'].map((label) =>
    h('div', { class: 'panel stat' }, h('span', { class: 'stat__label' }, label), h('span', { class: 'stat__value' }, '…'))));
  const body = h('div', { class: 'product-body' }, skeleton('block'));
  root.append(
    h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/explore' }, 'Explore'), ' / ',
      h('a', { href: `/domains/${seg(id.split('.')[0])}` }, id.split('.')[0]), ' / ', h('span', { 'aria-current': 'page' }, id)),
    header, stats, body);

  let product;
  try {
    product = await api(base, { signal });
  } catch (error) {
    if (isAbort(error)) return undefined;
    clear(header);
    header.appendChild(h('h1', { 'data-testid': 'product-name' }, id));
    clear(stats);
    clear(body);
    body.appendChild(error.status === 404
      ? emptyState('No such data product', `Nothing in the catalog is called ${id}.`, h('a', { class: 'btn', href: '/explore' }, 'Back to Explore'))
      : errorState(error, () => ctx.navigate(window.location.pathname + window.location.search, { replace: true })));
    return undefined;
  }
  const spec = product.spec;
  ctx.setTitle(spec.name || id);
  const status = product.lifecycle.status;
  const port = choosePort(spec);
  const domainName = id.split('.')[0];
  const domainPromise = api(`/api/v1/domains/${seg(domainName)}`, { signal }).catch(() => null);
  const statsPromise = port ? api(`${base}/stats`, { signal }) : Promise.resolve(null);
  statsPromise.catch(() => {});
  const deadPromise = port ? api(`${base}/dead-letters?limit=20`, { signal }) : Promise.resolve(null);
  deadPromise.catch(() => {});

  // ----- header -----
  clear(header);
  const actions = h('div', { class: 'page-header__actions' });
  header.append(
    h('div', { class: 'product-header__main' },
      h('div', { class: 'row product-header__badges' }, statusBadge(status), tierBadge(spec.qualityTier), slaBadge(spec.slaTier),
        h('span', { class: 'badge badge--plain', title: 'Version' }, `v${spec.version}`)),
      h('h1', { 'data-testid': 'product-name' }, spec.name || id),
      h('p', { class: 'lead product-header__id' }, h('span', { class: 'mono', 'data-testid': 'product-id' }, id), ' · owned by ',
        h('strong', null, spec.owner || '—'), ' in ', h('a', { href: `/domains/${seg(domainName)}` }, domainName))),
    actions);
  domainPromise.then((domain) => {
    if (signal.aborted) return;
    // Its domain manages it; everyone else may ask to read it.
    if (mayChangeDomain(domain, spec.owner)) {
      actions.appendChild(h('a', { class: 'btn btn--primary', href: `/manage/${seg(id)}`, 'data-testid': 'manage-link' }, 'Manage'));
    } else if (status === 'published' || status === 'deprecated') {
      const request = h('button', { type: 'button', class: 'btn', 'data-testid': 'request-access' }, 'Request access');
      request.addEventListener('click', async () => {
        if (await openAccessRequestDialog(id)) consumersRefresh();
      });
      actions.appendChild(request);
    }
  });
  if (product.lifecycle.status === 'deprecated') {
    const lc = product.lifecycle;
    header.after(h('div', { class: 'alert alert--warning', role: 'note', 'data-testid': 'deprecation-notice' },
      h('p', { class: 'alert__title' }, `Deprecated: served until ${lc.sunset}`),
      h('p', { style: { margin: 0 } }, lc.reason || '', lc.successor ? [' Move to ', h('a', { href: `/products/${seg(lc.successor)}` }, lc.successor), '.'] : null)));
  } else if (status === 'retired') {
    header.after(h('div', { class: 'alert alert--info', role: 'note' }, 'This product is retired: its data is no longer served.'));
  }

  // ----- summary numbers -----
  const fillStats = (s, dead) => {
    clear(stats);
    const freshnessNote = s && s.stale !== null && s.stale !== undefined && s.lastRecordAt
      ? (s.stale ? badge('stale', 'warn') : badge('within objective', 'ok'))
      : null;
    const items = [
      ['Records', s ? fmtNumber(s.records) : '—', 'stat-records', s ? `in ${s.partitions} partition${s.partitions === 1 ? '' : 's'}` : 'no output port'],
      ['Last record', s && s.lastRecordAt ? fmtAgo(s.lastRecordAt) : 'never', 'stat-freshness',
        s && s.lastRecordAt ? fmtTime(s.lastRecordAt) : 'no records yet', freshnessNote],
      ['Last hour', s ? fmtNumber(s.windowRecords) : '—', 'stat-throughput', s ? `${fmtNumber(s.windowRecords / 60)} / min on average` : ''],
      ['Dead letters', dead ? fmtNumber(dead.unresolved) : '—', 'stat-dead-letters',
        dead ? `${fmtNumber(dead.total)} in all; ${fmtNumber(dead.total - dead.unresolved)} replayed or dropped` : 'none'],
    ];
    for (const [label, value, testid, hint, extra] of items) {
      stats.appendChild(h('div', { class: 'panel stat', 'data-testid': testid },
        h('span', { class: 'stat__label' }, label),
        h('span', { class: 'stat__value' }, value),
        h('span', { class: 'hint' }, hint, extra ? [' ', extra] : null)));
    }
  };
  Promise.all([statsPromise, deadPromise.catch(() => null)]).then(([s, dead]) => {
    if (!signal.aborted) fillStats(s, dead);
  }, (error) => {
    if (isAbort(error)) return;
    fillStats(null, null);
    stats.appendChild(h('p', { class: 'hint', style: { gridColumn: '1 / -1' } }, `Statistics unavailable: ${error.message}`));
  });

  // ----- tabs -----
  let consumersRefresh = () => {};
  const initial = TABS.some(([t]) => t === params.query.get('tab')) ? params.query.get('tab') : 'overview';
  const tabset = tabs({
    label: 'Product sections',
    selected: initial,
    onChange: (tab) => {
      const url = new URL(window.location.href);
      if (tab === 'overview') url.searchParams.delete('tab');
      else url.searchParams.set('tab', tab);
      window.history.replaceState(null, '', url.pathname + url.search);
    },
    tabs: TABS.map(([tabId, label]) => ({
      id: tabId,
      label,
      render: (panel) => {
        const renderers = {
          overview: () => renderOverview(panel, product, port, statsPromise, signal),
          schema: () => renderSchema(panel, base, port, signal),
          data: () => cleanups.push(renderData(panel, base, port, status, signal)),
          profile: () => renderProfile(panel, base, port, status, signal),
          lineage: () => renderLineage(panel, base, id, signal),
          consumers: () => {
            consumersRefresh = () => renderConsumers(panel, base, id, signal);
            consumersRefresh();
          },
          history: () => renderHistory(panel, base, signal),
        };
        renderers[tabId]();
      },
    })),
  });
  clear(body);
  body.appendChild(tabset.element);

  return () => {
    for (const cleanup of cleanups) if (typeof cleanup === 'function') cleanup();
  };
}

/// The port the data routes read by default: the served port with the highest version.
function choosePort(spec) {
  const served = (spec.outputPorts || []).filter((p) => p.status !== 'retired');
  const key = (v) => String(v || '0.0.0').split('.').map((n) => parseInt(n, 10) || 0);
  served.sort((a, b) => {
    const x = key(a.version);
    const y = key(b.version);
    return y[0] - x[0] || y[1] - x[1] || y[2] - x[2];
  });
  return served[0] || null;
}

// The contract the port checks every record against: id, version, status, and its rules.
async function fillContract(box, id, signal) {
  let answer;
  try {
    answer = await api(`/api/v1/products/${seg(id)}/contract`, { signal });
  } catch (error) {
    if (isAbort(error)) return;
    box.replaceChildren(errorState(error, () => fillContract(box, id, signal)));
    return;
  }
  const c = answer.contract;
  if (!c) {
    box.replaceChildren(emptyState('No contract', 'Records are checked against the port\'s schema only. Attach an ODCS contract with `weft contract attach` or PUT /api/v1/products/{id}/contract.'));
    return;
  }
  const object = (answer.attached && answer.attached.object) || Object.keys(c.rules)[0];
  const rules = c.rules[object] || [];
  const checked = rules.filter((r) => r.checkedAtWrite);
  box.replaceChildren(
    h('p', null, h('strong', { class: 'mono', 'data-testid': 'contract-id' }, `${c.id} ${c.version}`), ' ', badge(c.status || 'unknown', c.status === 'active' ? 'ok' : 'plain'),
      c.name ? h('span', { class: 'hint' }, ` ${c.name}`) : null),
    h('p', { class: 'hint' }, `${checked.length} rules checked on every record written; ${rules.length - checked.length} not checked at write time.`),
    h('ul', { class: 'plain-list contract-rules', 'data-testid': 'contract-rules' }, rules.map((r) => h('li', { 'data-testid': 'contract-rule', 'data-rule': r.id },
      h('span', { class: 'mono' }, r.id), r.checkedAtWrite ? null : [' ', badge('not at write', 'plain')],
      h('div', { class: 'hint' }, r.description)))),
    h('a', { class: 'btn', href: `/api/v1/contracts/${seg(c.id)}/odcs?version=${encodeURIComponent(c.version)}`, download: `${c.id}-${c.version}.odcs.yaml` }, 'Download ODCS YAML'));
}

// The streams and tables SQL reads the output port's topic through (GET /api/v1/sql/sources), each with
// a link to query it in the SQL editor. When there is none, one click declares the product's stream
// (POST /sql-source: the server names it and takes its columns from the port's schema), as ksqlDB users
// expect a stream per topic. Looking declares nothing, so a visitor who may not read the data sees no refusal.
async function fillSqlSource(box, id, port, signal) {
  let sources;
  try {
    ({ sources } = await api('/api/v1/sql/sources', { signal }));
  } catch (error) {
    if (isAbort(error)) return;
    box.replaceChildren(errorState(error, () => fillSqlSource(box, id, port, signal)));
    return;
  }
  const item = (source, statement) => h('div', { class: 'sql-source', 'data-testid': 'sql-source-item', 'data-name': source.name },
    h('p', null, h('strong', { class: 'mono', 'data-testid': 'sql-source-name' }, source.name), ' ',
      badge(source.kind.toLowerCase(), source.kind === 'TABLE' ? 'info' : 'plain'),
      statement ? h('span', { class: 'hint' }, ' declared now') : null),
    statement ? h('pre', { class: 'mono', 'data-testid': 'sql-source-statement', style: { whiteSpace: 'pre-wrap' } }, statement) : null,
    h('a', { class: 'btn btn--small', 'data-testid': 'sql-source-query', href: `/create?source=${encodeURIComponent(source.name)}` }, 'Query it in SQL'));
  const over = sources.filter((s) => s.topic === port.topic);
  if (over.length) {
    box.replaceChildren(...over.map((s) => item(s, null)));
    return;
  }
  const declare = h('button', { type: 'button', class: 'btn', 'data-testid': 'sql-source-declare' }, 'Declare its SQL stream');
  const note = h('p', { class: 'field-error', 'aria-live': 'polite' });
  declare.addEventListener('click', async () => {
    declare.disabled = true;
    note.textContent = '';
    try {
      const source = await api(`/api/v1/products/${seg(id)}/sql-source`, { method: 'POST', signal });
      box.replaceChildren(item(source, source.statement));
    } catch (error) {
      if (isAbort(error)) return;
      note.textContent = error.status === 403 ? 'Its domain and those granted access query it in SQL.' : error.message;
      declare.disabled = false;
    }
  });
  box.replaceChildren(
    h('p', { class: 'hint' }, `No stream or table reads topic ${port.topic} yet. Its stream takes its columns from the port's schema.`),
    declare, note);
}

// Records the port did not take: its policy, the unresolved ones with the rules they broke, and replay
// (after a fix: each is checked again) and drop (with a reason).
async function fillDeadLetters(box, id, signal) {
  const base = `/api/v1/products/${seg(id)}`;
  let page;
  let governance;
  try {
    [page, governance] = await Promise.all([api(`${base}/dead-letters?limit=${DEAD_SHOWN}`, { signal }), api(`${base}/governance`, { signal })]);
  } catch (error) {
    if (isAbort(error)) return;
    box.replaceChildren(errorState(error, () => fillDeadLetters(box, id, signal)));
    return;
  }
  const policy = h('p', { class: 'hint', 'data-testid': 'dead-letter-policy' },
    governance.policy === 'dead-letter'
      ? 'Policy: dead-letter. A record that breaks the port\'s schema or contract waits here; the rest of its request is written.'
      : 'Policy: reject. A request with a record that breaks the port\'s schema or contract is refused whole; nothing waits here.');
  if (!page.total) {
    box.replaceChildren(policy, emptyState('No dead letters', 'Every record written to this product passed its rules.'));
    return;
  }
  const byRule = Object.entries(page.by_rule || {});
  // A list, not a table: the panel sits in the narrow side column.
  const rows = page.entries.map((e) => h('li', { class: 'dead-letter', 'data-testid': 'dead-letter-row', 'data-offset': String(e.offset) },
    h('div', { class: 'row dead-letter__head' },
      h('span', { class: 'mono' }, `#${e.offset}`), h('span', { class: 'mono' }, e.key === null ? 'no key' : JSON.stringify(e.key)),
      h('span', { class: 'spacer' }), h('span', { class: 'hint' }, fmtAgo(e.refused_at || e.timestamp))),
    e.violations.map((v) => h('p', { class: 'dead-letter__rule' },
      h('strong', { class: 'mono' }, v.rule), v.field ? [' ', h('span', { class: 'mono' }, v.field)] : null, ': ', v.reason))));
  const replay = h('button', { type: 'button', class: 'btn', 'data-testid': 'dead-letters-replay' }, 'Replay all');
  const drop = h('button', { type: 'button', class: 'btn btn--danger', 'data-testid': 'dead-letters-drop' }, 'Drop all…');
  const outcome = h('p', { class: 'hint', 'aria-live': 'polite', 'data-testid': 'dead-letters-outcome' });
  replay.addEventListener('click', async () => {
    replay.disabled = true;
    try {
      const report = await api(`${base}/dead-letters:replay`, { method: 'POST', body: {} });
      toast(`Replayed ${report.replayed.length}; ${report.failed.length} still break the rules and stay.`, report.failed.length ? 'warning' : 'success');
      fillDeadLetters(box, id, signal);
    } catch (error) {
      outcome.textContent = error.message;
      replay.disabled = false;
    }
  });
  drop.addEventListener('click', async () => {
    const done = await openDialog({
      title: `Drop the dead letters of ${id}`,
      body: h('p', null, 'They stay in the dead-letter topic, marked dropped with your reason; they are not written to the product.'),
      fields: [{ id: 'reason', label: 'Reason', type: 'textarea', required: true }],
      confirmLabel: 'Drop',
      danger: true,
      onConfirm: (values) => api(`${base}/dead-letters:drop`, { method: 'POST', body: { reason: values.reason } }),
      testid: 'drop-dead-letters-dialog',
    });
    if (done) {
      toast(`Dropped ${done.dropped.length} dead letters.`, 'success');
      fillDeadLetters(box, id, signal);
    }
  });
  box.replaceChildren(...[policy,
    h('p', null, `${fmtNumber(page.unresolved)} waiting of ${fmtNumber(page.total)}`,
      byRule.length ? [' (', byRule.map(([rule, n]) => `${rule}: ${fmtNumber(n)}`).join(', '), ')'] : null, '.'),
    page.entries.length ? h('ul', { class: 'plain-list dead-letters' }, rows) : null,
    page.entries_hidden
      ? h('p', { class: 'hint', 'data-testid': 'dead-letters-hidden' }, 'The records themselves are for the product\'s domain to see and repair.')
      : null,
    !page.entries_hidden && page.unresolved > page.entries.length
      ? h('p', { class: 'hint' }, `The oldest ${page.entries.length} of ${fmtNumber(page.unresolved)}; all of them: weft dead-letters list ${id}`)
      : null,
    page.unresolved && !page.entries_hidden ? h('div', { class: 'row' }, replay, drop) : null,
    outcome].filter(Boolean));
}

function panel(title, testid, ...children) {
  return h('section', { class: 'panel', 'data-testid': testid, 'aria-label': title },
    h('div', { class: 'panel__header' }, h('h2', null, title)), children);
}

function paragraphs(text) {
  return String(text).split(/\n{2,}/).map((p) => h('p', null, p));
}

// ----- overview -----
function renderOverview(el, product, port, statsPromise, signal) {
  const spec = product.spec;
  const lc = product.lifecycle;
  const about = panel('About', 'product-about',
    h('div', { 'data-testid': 'product-description', class: 'product-text' },
      spec.description ? paragraphs(spec.description) : h('p', { class: 'muted' }, 'No description yet.')),
    spec.documentation
      ? h('details', { class: 'product-docs', 'data-testid': 'product-documentation', open: spec.documentation.length < 600 },
        h('summary', null, 'Documentation'), h('div', { class: 'product-text' }, paragraphs(spec.documentation)))
      : null,
    spec.tags && spec.tags.length
      ? h('ul', { class: 'tags', 'aria-label': 'Tags' }, spec.tags.map((t) => h('li', null, h('a', { class: 'tag', href: `/explore?tag=${encodeURIComponent(t)}` }, t))))
      : null);
  const details = panel('Details', 'product-props', props([
    ['Owner', spec.owner],
    ['Domain', h('a', { href: `/domains/${seg(spec.id.split('.')[0])}` }, spec.id.split('.')[0])],
    ['Status', [statusBadge(lc.status), lc.status === 'deprecated' ? ` until ${lc.sunset}` : null]],
    ['Version', spec.version],
    ['Quality tier', tierBadge(spec.qualityTier)],
    ['SLA', spec.slaTier ? slaBadge(spec.slaTier) : 'None declared'],
    ['Freshness objective', spec.freshnessObjective || 'None declared'],
    ['Created', fmtTime(product.createdAt)],
    ['Updated', `${fmtTime(product.updatedAt)} (revision ${product.revision})`],
  ]));
  const ports = panel('Output ports', 'output-ports',
    (spec.outputPorts || []).length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', null, h('tr', null, ['Port', 'Version', 'Topic', 'Schema subject', 'Format', 'Status'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, spec.outputPorts.map((p) => h('tr', null,
          h('td', null, p.name, port && p.name === port.name && p.version === port.version ? [' ', badge('default', 'info')] : null),
          h('td', null, p.version), h('td', { class: 'mono' }, p.topic), h('td', { class: 'mono' }, p.schemaSubject || '—'),
          h('td', null, p.format || '—'), h('td', null, p.status || 'active'))))))
      : emptyState('No output ports', 'A product needs an output port with a registered schema before it can be published.'),
    (spec.inputPorts || []).length
      ? [h('h3', { class: 'product-subhead' }, 'Input ports'), h('ul', { class: 'plain-list' }, spec.inputPorts.map((p) => h('li', null,
        h('strong', null, p.name), ': ', p.product ? h('a', { href: `/products/${seg(p.product)}` }, p.product) : h('span', { class: 'mono' }, p.topic || '—'),
        p.port ? ` (${p.port})` : null)))]
      : null);
  const chartBox = h('div', { class: 'chart-box', 'data-testid': 'throughput-chart' }, skeleton('block'));
  const activity = panel('Throughput and freshness', 'activity-panel', chartBox);
  const contractBox = h('div', null, skeleton('lines', 2));
  const contract = panel('Data contract', 'contract-panel', contractBox);
  if (port) fillContract(contractBox, spec.id, signal);
  else contractBox.replaceChildren(emptyState('No output port', 'A contract governs the records of an output port.'));
  const sqlBox = h('div', null, skeleton('lines', 2));
  const sql = panel('In SQL', 'sql-source', sqlBox);
  if (port && lc.status !== 'retired') fillSqlSource(sqlBox, spec.id, port, signal);
  else sqlBox.replaceChildren(emptyState('No SQL stream', lc.status === 'retired' ? 'A retired product serves no data.' : 'SQL reads the records of an output port.'));
  const deadBox = h('div', null, skeleton('lines', 2));
  const dead = panel('Dead letters', 'dead-letters-panel', deadBox);
  if (port) fillDeadLetters(deadBox, spec.id, signal);
  else deadBox.replaceChildren(emptyState('No output port', 'Dead letters are records an output port refused.'));
  el.appendChild(h('div', { class: 'product-overview' },
    h('div', { class: 'product-overview__main stack' }, about, activity, ports),
    h('div', { class: 'product-overview__side stack' }, details, sql, contract, dead)));
  statsPromise.then((s) => {
    if (signal.aborted) return;
    clear(chartBox);
    if (!s) {
      chartBox.appendChild(emptyState('No data', 'This product has no output port to measure.'));
      return;
    }
    const minute = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
    const chartWidth = Math.max(300, Math.min(1100, chartBox.clientWidth || 720));
    chartBox.append(...[
      h('p', { class: 'hint' }, `Records per minute over the last hour, from record timestamps. ${s.lastRecordAt ? `Last record ${fmtAgo(s.lastRecordAt)} (${fmtTime(s.lastRecordAt)})` : 'No records yet'}${s.freshnessObjectiveSeconds ? `; objective: within ${fmtDuration(s.freshnessObjectiveSeconds)}` : ''}.`),
      lineChart(s.throughput.map((b) => ({ x: b.start, y: b.count })), {
        title: 'Records per minute, last hour', xFormat: (x) => minute.format(new Date(x)), yFormat: (y) => fmtNumber(y),
        width: chartWidth, height: 180,
      }),
      s.truncated ? h('p', { class: 'hint' }, 'Counting stopped at the read limit: the counts are lower bounds.') : null,
      freshnessMeter(s)].filter(Boolean));
  }, (error) => {
    if (isAbort(error)) return;
    clear(chartBox);
    chartBox.appendChild(errorState(error));
  });
}

/// The newest record's age against the freshness objective, as a native <meter> (read out by screen readers).
function freshnessMeter(s) {
  if (!s.lastRecordAt || !s.freshnessObjectiveSeconds) return null;
  const age = Math.max(0, Math.round(s.freshnessMs / 1000));
  const objective = s.freshnessObjectiveSeconds;
  // The server says whether the objective is met (the one freshness rule); the meter only draws it.
  const within = s.stale === false;
  return h('div', { class: 'freshness', 'data-testid': 'freshness-meter' },
    h('label', { for: 'freshness-meter' }, 'Freshness: ', h('strong', null, fmtDuration(age)), ` old, objective ${fmtDuration(objective)} `,
      badge(within ? 'within objective' : 'stale', within ? 'ok' : 'warn')),
    h('meter', { id: 'freshness-meter', min: '0', max: String(objective * 2), low: String(objective * 0.75), high: String(objective),
      optimum: '0', value: String(Math.min(age, objective * 2)) }, `${fmtDuration(age)} of ${fmtDuration(objective)}`));
}

function fmtDuration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${fmtNumber(seconds / 60, { maximumFractionDigits: 1 })} min`;
  if (seconds < 86400) return `${fmtNumber(seconds / 3600, { maximumFractionDigits: 1 })} h`;
  return `${fmtNumber(seconds / 86400, { maximumFractionDigits: 1 })} d`;
}

// ----- schema -----
// The server reads the schema (GET /api/v1/products/{id}/schema): its fields come flattened by the
// registry's own parser, with type, doc, depth, whether they may be missing and their classification.
async function renderSchema(el, base, port, signal) {
  if (!port) {
    el.appendChild(emptyState('No schema', 'This product has no output port with a schema subject.'));
    return;
  }
  el.appendChild(skeleton('lines', 5));
  try {
    const schema = await api(`${base}/schema`, { signal });
    clear(el);
    el.appendChild(h('div', { class: 'row schema-meta' },
      h('span', null, 'Subject ', h('code', null, schema.subject)),
      badge(`version ${schema.version}`, 'info'), badge(`id ${schema.id}`, 'plain'), badge(schema.schemaType, 'plain'),
      h('span', { class: 'hint' }, `Port ${schema.port} v${schema.portVersion}, topic `, h('code', null, schema.topic))));
    if (schema.fields.length) {
      el.appendChild(h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'schema-table' },
        h('caption', { class: 'visually-hidden' }, `Fields of ${schema.subject}`),
        h('thead', null, h('tr', null, ['Field', 'Type', 'Description', 'Classification'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, schema.fields.map((f) => h('tr', { 'data-testid': 'schema-field', 'data-field': f.path },
          h('td', { class: 'mono schema-name', style: { paddingLeft: `${12 + f.depth * 16}px` } }, f.path),
          h('td', { class: 'mono' }, f.type, f.optional ? h('span', { class: 'muted' }, ' (optional)') : null),
          h('td', null, f.doc || h('span', { class: 'muted' }, '—')),
          h('td', null, f.classification.length
            ? f.classification.map((c) => badge(c, 'warn'))
            : h('span', { class: 'muted', 'aria-label': 'None' }, '—'))))))));
    } else {
      el.appendChild(emptyState('No fields', 'The schema declares no fields the registry could list.'));
    }
    el.appendChild(h('details', { class: 'schema-raw' }, h('summary', null, 'Schema text'), h('pre', null, prettyJson(schema.schema))));
  } catch (error) {
    if (isAbort(error)) return;
    clear(el);
    el.appendChild(error.code === 42209
      ? emptyState('Schema not registered', `No schema is registered under ${port.schemaSubject} yet.`)
      : errorState(error));
  }
}

/** Schema text indented for reading (JSON schemas; other text as it is). */
function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// ----- live data -----
function compact(value) {
  if (value === null || value === undefined) return 'null';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 400 ? `${text.slice(0, 399)}…` : text;
}

function recordRow(record, testid) {
  return h('tr', { 'data-testid': testid },
    h('td', { class: 'nowrap' }, fmtTime(record.timestamp)),
    h('td', { class: 'num mono' }, `${record.partition}:${record.offset}`),
    h('td', { class: 'mono cell-key' }, compact(record.key)),
    h('td', { class: 'mono cell-value' }, compact(record.value)));
}

function recordTable(testid, caption, rows) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table records-table', 'data-testid': testid },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col', class: 'num' }, 'Partition:offset'),
      h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value'))),
    rows));
}

function renderData(el, base, port, status, signal) {
  if (!port || status === 'retired') {
    el.appendChild(emptyState('No data to show', status === 'retired' ? 'Retired products no longer serve data.' : 'This product has no output port.'));
    return null;
  }
  let paused = false;
  let received = 0;
  let buffered = [];
  let source = null;
  const tbody = h('tbody', { 'data-testid': 'tail-records' });
  const countEl = h('span', { class: 'tail-count', 'data-testid': 'tail-count', 'aria-live': 'polite', 'aria-atomic': 'true' }, 'Waiting for new records…');
  const statusDot = h('span', { class: 'live-dot', 'aria-hidden': 'true' });
  const toggle = h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'tail-toggle', 'aria-pressed': 'false' }, 'Pause');
  const placeholder = h('tr', { class: 'tail-empty' }, h('td', { colspan: '4', class: 'muted' }, 'New records appear here as they are written.'));
  tbody.appendChild(placeholder);
  const updateCount = () => {
    countEl.textContent = `${fmtNumber(received)} new record${received === 1 ? '' : 's'} since you opened this tab${paused && buffered.length ? `, ${buffered.length} held while paused` : ''}`;
  };
  const show = (record) => {
    placeholder.remove();
    tbody.insertBefore(recordRow(record, 'tail-record'), tbody.firstChild);
    while (tbody.childNodes.length > TAIL_KEEP) tbody.removeChild(tbody.lastChild);
  };
  toggle.addEventListener('click', () => {
    paused = !paused;
    toggle.textContent = paused ? 'Resume' : 'Pause';
    toggle.setAttribute('aria-pressed', String(paused));
    statusDot.classList.toggle('is-paused', paused);
    if (!paused) {
      buffered.forEach(show);
      buffered = [];
    }
    updateCount();
  });
  const live = h('section', { class: 'panel', 'data-testid': 'live-tail', 'aria-label': 'Live tail' },
    h('div', { class: 'panel__header' }, h('h2', null, statusDot, 'Live tail'), h('div', { class: 'row' }, countEl, toggle)),
    recordTable('tail-table', 'Records arriving now, newest first', tbody));
  const sampleBox = h('div', null, skeleton('lines', 4));
  const sample = h('section', { class: 'panel', 'aria-label': 'Sample records' },
    h('div', { class: 'panel__header' }, h('h2', null, 'Latest records'),
      h('div', { class: 'btn-group' },
        h('a', { class: 'btn btn--small', href: `${base}/export?format=jsonl`, download: '', 'data-testid': 'export-jsonl' }, 'Export JSON lines'),
        h('a', { class: 'btn btn--small', href: `${base}/export?format=csv`, download: '', 'data-testid': 'export-csv' }, 'Export CSV'),
        h('a', { class: 'btn btn--small', href: `${base}/export?format=parquet`, download: '', 'data-testid': 'export-parquet', title: 'Columns typed from the product\'s schema' }, 'Export Parquet'))),
    sampleBox);
  el.append(h('div', { class: 'stack' }, live, sample));

  // The tail starts at the latest records by default; its event ids are cursors over every partition,
  // so a reconnecting EventSource resumes where it stopped (a `from` here would restart it at the end).
  // It opens once the sample shows the reader may read the data at all.
  const startTail = () => {
    source = new EventSource(`${base}/records/stream`);
    source.onmessage = (event) => {
      let record;
      try {
        record = JSON.parse(event.data);
      } catch {
        return;
      }
      received += 1;
      if (paused) {
        buffered.push(record);
        if (buffered.length > TAIL_KEEP) buffered.shift();
      } else {
        show(record);
      }
      updateCount();
    };
    source.onerror = () => {
      statusDot.classList.add('is-off');
    };
    source.onopen = () => statusDot.classList.remove('is-off');
  };

  api(`${base}/sample?limit=20`, { signal }).then((s) => {
    startTail();
    clear(sampleBox);
    if (!s.records.length) {
      sampleBox.appendChild(emptyState('No records yet', `Nothing has been written to ${s.topic} yet.`));
      return;
    }
    const rows = h('tbody', null, [...s.records].reverse().map((r) => recordRow(r, 'sample-record')));
    sampleBox.appendChild(recordTable('sample-table', 'The latest records, newest first', rows));
  }, (error) => {
    if (isAbort(error)) return;
    clear(sampleBox);
    if (error.code === 40307) {
      // No grant: the data is the owners' to share. Say so, and how to ask.
      live.remove();
      sampleBox.appendChild(h('div', { class: 'empty', 'data-testid': 'no-grant' },
        h('p', { class: 'empty__title' }, 'You have no access to this data yet'),
        h('p', null, 'Its metadata, schema and lineage are open to everyone; its records need a grant from the product\'s owners. ',
          'Use "Request access" on this page, and read it here once they approve.')));
      return;
    }
    sampleBox.appendChild(errorState(error));
  });

  return () => {
    if (source) source.close();
  };
}

// ----- profile -----
// The live profile (GET /profile): maintained by the server as records are written, so it covers every
// record (or, when partial, the newest ones a rebuild read); distinct counts are estimates, marked "~".
async function renderProfile(el, base, port, status, signal) {
  if (!port || status === 'retired') {
    el.appendChild(emptyState('Nothing to profile', status === 'retired' ? 'Retired products no longer serve data.' : 'This product has no output port.'));
    return;
  }
  el.appendChild(skeleton('cards', 4));
  try {
    const p = await api(`${base}/profile`, { signal });
    clear(el);
    if (!p.records && !p.deadLettered) {
      el.appendChild(emptyState('No records to profile', `Nothing has been written to ${p.topic} yet.`));
      return;
    }
    const received = p.records + p.deadLettered;
    const hour = (p.throughput || []).reduce((sum, b) => sum + b.count, 0);
    el.appendChild(h('div', { class: 'stats profile-summary', 'data-testid': 'profile-summary' },
      [['Records profiled', fmtNumber(p.records), p.records ? `${fmtTime(p.from)} to ${fmtTime(p.to)}` : ''],
        ['Size', fmtBytes(p.bytes), p.tombstones ? `${fmtNumber(p.tombstones)} tombstones` : 'keys, values and headers'],
        ['Last hour', fmtNumber(hour), `${fmtNumber(hour / 60, { maximumFractionDigits: 1 })} / min`],
        ['Dead-lettered', `${fmtNumber(100 * p.deadLetteredShare, { maximumFractionDigits: 2 })}%`,
          `${fmtNumber(p.deadLettered)} of ${fmtNumber(received)} received failed the contract`],
      ].map(([label, value, hint]) => h('div', { class: 'panel stat' },
        h('span', { class: 'stat__label' }, label), h('span', { class: 'stat__value' }, value), h('span', { class: 'hint' }, hint)))));
    const sk = p.sketches || {};
    el.appendChild(h('p', { class: 'hint' },
      p.partial
        ? `Partial: rebuilt from the newest records; ${fmtNumber(p.notProfiled)} older records in the log are not included. `
        : 'Every record written is included, updated as records arrive. ',
      `Distinct counts marked ~ are estimates (standard error ${fmtNumber(100 * (sk.distinctStandardError || 0), { maximumFractionDigits: 2 })}%, exact up to 512); `,
      `histograms use up to ${fmtNumber(sk.histogramGridBins || 0)} adaptive bins; quantiles (~) are within ${fmtNumber(100 * (sk.histogramRelativeAccuracy || 0))}% of the value or half a bin.`));
    el.appendChild(h('div', { class: 'grid profile-grid', 'data-testid': 'profile-fields' }, p.fields.map((f) => fieldCard(f, p.records))));
  } catch (error) {
    if (isAbort(error)) return;
    clear(el);
    el.appendChild(errorState(error));
  }
}

function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n || 0;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${fmtNumber(value, { maximumFractionDigits: unit ? 1 : 0 })} ${units[unit]}`;
}

function fieldCard(f, total) {
  const nullPct = total ? (100 * f.nulls) / total : 0;
  const facts = [
    ['Values', fmtNumber(f.count)],
    ['Nulls', `${fmtNumber(f.nulls)} (${fmtNumber(nullPct, { maximumFractionDigits: 1 })}%)`],
    ['Distinct', h('span', { 'data-testid': 'field-distinct', title: 'HyperLogLog estimate' }, `~${fmtNumber(f.distinct)}`)],
  ];
  if (f.min !== undefined) facts.push(['Min', fmtNumber(f.min)], ['Max', fmtNumber(f.max)], ['Mean', fmtNumber(f.mean)]);
  if (f.quantiles) facts.push(['Median', `~${fmtNumber(f.quantiles.p50)}`], ['p99', `~${fmtNumber(f.quantiles.p99)}`]);
  if (f.minLength !== undefined) facts.push(['Length', f.minLength === f.maxLength ? String(f.minLength) : `${f.minLength}–${f.maxLength}`]);
  let chart = null;
  if (f.histogram && f.histogram.length > 1) {
    chart = histogram(f.histogram, { title: `Distribution of ${f.name}` });
  } else if (f.topValues && f.topValues.length && f.topValues[0].count > 1) {
    chart = barChart(f.topValues.map((v) => ({ label: compact(v.value), value: v.count })), { title: `Most frequent values of ${f.name}` });
  }
  return h('article', { class: 'card field-card', 'data-testid': 'field-profile', 'data-field': f.name },
    h('div', { class: 'row' }, h('h3', { class: 'card__title mono' }, f.name), h('span', { class: 'spacer' }),
      badge(f.schemaType || f.type, 'plain')),
    f.doc ? h('p', { class: 'hint', style: { margin: 0 } }, f.doc) : null,
    f.count > 1 && f.distinct >= f.count ? h('p', { class: 'hint', style: { margin: 0 } }, 'Every value is distinct (as far as the estimate tells).') : null,
    h('div', { class: 'null-bar', role: 'img', 'aria-label': `${fmtNumber(100 - nullPct, { maximumFractionDigits: 1 })}% filled` },
      h('span', { style: { width: `${100 - nullPct}%` } })),
    h('dl', { class: 'field-facts' }, facts.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v)))),
    chart,
    chart && f.topValuesMaxError ? h('p', { class: 'hint', style: { margin: 0 } }, `Counts may be up to ${fmtNumber(f.topValuesMaxError)} below the true ones.`) : null);
}

// ----- lineage -----
async function renderLineage(el, base, id, signal) {
  el.appendChild(skeleton('block'));
  try {
    const [up, down] = await Promise.all([api(`${base}/lineage/upstream`, { signal }), api(`${base}/lineage/downstream`, { signal })]);
    clear(el);
    const nodes = new Map();
    for (const n of up.nodes) nodes.set(n.id, { ...n, column: -n.depth });
    for (const n of down.nodes) if (!nodes.has(n.id) || n.depth > 0) nodes.set(n.id, { ...n, column: n.id === id ? 0 : n.depth });
    const edges = new Map();
    for (const e of [...up.edges, ...down.edges]) edges.set(`${e.from}→${e.to}`, e);
    // People and teams reading by grant: the last hop, beyond the catalog's products.
    const consumers = down.consumers || [];
    const consumerList = consumers.length
      ? h('section', { class: 'lineage-consumers', 'data-testid': 'lineage-consumers' },
        h('h3', null, `Consumers by grant (${consumers.length})`),
        h('ul', { class: 'plain-list' }, consumers.map((c) => h('li', { 'data-principal': c.principal },
          h('strong', null, c.principal), c.team ? ` for ${c.team}` : '', ' reads ', h('a', { href: `/products/${seg(c.product)}` }, c.product),
          c.expiresAt ? ` until ${new Date(c.expiresAt).toISOString().slice(0, 10)}` : '', ` (${c.request})`))))
      : null;
    if (nodes.size <= 1) {
      el.appendChild(emptyState('No lineage yet', 'This product has no upstream inputs and no downstream products in the catalog.'));
      if (consumerList) el.appendChild(consumerList);
      return;
    }
    el.appendChild(h('p', { class: 'hint' }, 'Upstream products on the left, consumers on the right. Select a product to open it.'));
    el.appendChild(h('div', { class: 'lineage-wrap' }, lineageGraph([...nodes.values()], [...edges.values()], id)));
    if (consumerList) el.appendChild(consumerList);
    const fieldEdges = [...(up.fieldEdges || []), ...(down.fieldEdges || [])];
    if (fieldEdges.length) {
      el.appendChild(h('details', { class: 'lineage-fields' }, h('summary', null, `Field lineage (${fieldEdges.length})`),
        h('ul', { class: 'plain-list mono' }, fieldEdges.map((e) => h('li', null, `${e.from.product}.${e.from.field} → ${e.to.product}.${e.to.field}`)))));
    }
  } catch (error) {
    if (isAbort(error)) return;
    clear(el);
    el.appendChild(errorState(error));
  }
}

function lineageGraph(nodes, edges, rootId) {
  const W = 220;
  const H = 54;
  const GX = 70;
  const GY = 18;
  const columns = new Map();
  for (const n of nodes) {
    if (!columns.has(n.column)) columns.set(n.column, []);
    columns.get(n.column).push(n);
  }
  const keys = [...columns.keys()].sort((a, b) => a - b);
  const rows = Math.max(...[...columns.values()].map((c) => c.length));
  const width = keys.length * W + (keys.length - 1) * GX + 8;
  const height = rows * H + (rows - 1) * GY + 8;
  const pos = new Map();
  keys.forEach((k, ci) => {
    const col = columns.get(k).sort((a, b) => a.id.localeCompare(b.id));
    const offset = ((rows - col.length) * (H + GY)) / 2;
    col.forEach((n, ri) => pos.set(n.id, { x: 4 + ci * (W + GX), y: 4 + offset + ri * (H + GY) }));
  });
  const root = svg('svg', { class: 'lineage', viewBox: `0 0 ${width} ${height}`, width, height, role: 'group',
    'aria-label': `Lineage of ${rootId}: ${nodes.length} products`, 'data-testid': 'lineage-graph' },
  svg('title', null, `Lineage of ${rootId}`),
  svg('defs', null, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
    svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'lineage__arrowhead' }))));
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W;
    const y1 = a.y + H / 2;
    const x2 = b.x;
    const y2 = b.y + H / 2;
    const mx = (x1 + x2) / 2;
    root.appendChild(svg('path', { class: 'lineage__edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 2},${y2}`, 'marker-end': 'url(#arrow)' },
      svg('title', null, `${e.from} feeds ${e.to}`)));
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const isRoot = n.id === rootId;
    const label = `${n.name || n.id} (${n.id}), ${n.status}${isRoot ? ', this product' : n.column < 0 ? ', upstream' : ', downstream'}`;
    const group = svg(isRoot ? 'g' : 'a', { class: `lineage__node${isRoot ? ' is-root' : ''} status-${n.status}`, 'data-testid': 'lineage-node', 'data-id': n.id,
      ...(isRoot ? { 'aria-label': label, role: 'img' } : { href: `/products/${encodeURIComponent(n.id)}`, 'aria-label': label }) },
    svg('title', null, label),
    svg('rect', { x: p.x, y: p.y, width: W, height: H, rx: 8 }),
    svg('text', { x: p.x + 12, y: p.y + 22, class: 'lineage__name' }, truncate(n.name || n.id, 24)),
    svg('text', { x: p.x + 12, y: p.y + 40, class: 'lineage__id' }, truncate(n.status === 'published' ? n.id : `${n.id} · ${n.status}`, 27)));
    root.appendChild(group);
  }
  return root;
}

function truncate(text, n) {
  const s = String(text);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

// ----- consumers and access -----
const REQUEST_BADGE = { pending: 'warn', approved: 'ok', denied: 'error', revoked: 'plain' };

function table(testid, columns, rows) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': testid },
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, rows.map((cells) => h('tr', null, cells.map((c) => h('td', null, c)))))));
}

// Fills `box` from `load()`, or shows `empty` / the error; aborted loads leave it alone.
function fill(box, load, render, empty) {
  load().then((items) => {
    clear(box);
    box.appendChild(items.length ? render(items) : empty);
  }, (error) => {
    if (isAbort(error)) return;
    clear(box);
    box.appendChild(errorState(error));
  });
}

function renderConsumers(el, base, id, signal) {
  clear(el);
  const downstreamBox = h('div', null, skeleton('lines', 2));
  const grantsBox = h('div', null, skeleton('lines', 2));
  const requestsBox = h('div', null, skeleton('lines', 2));
  el.appendChild(h('div', { class: 'stack', 'data-testid': 'consumers-panel' },
    panel('Consuming products', 'consuming-products', downstreamBox),
    panel('Access grants', 'grants-panel', grantsBox),
    panel('Access requests', 'access-requests-panel', requestsBox)));
  fill(downstreamBox,
    () => api(`${base}/lineage/downstream`, { signal }).then((down) => down.nodes.filter((n) => n.depth === 1)),
    (direct) => h('ul', { class: 'plain-list' }, direct.map((n) => h('li', null,
      h('a', { href: `/products/${seg(n.id)}` }, n.name || n.id), ' ', h('span', { class: 'mono hint' }, n.id), ' ',
      statusBadge(n.status), ` · owner ${n.owner}`))),
    emptyState('No products consume this one', 'Products that name this one in an input port appear here.'));
  // Grants are recorded, not yet enforced on reads: that comes with authentication.
  fill(grantsBox,
    () => api(`${base}/grants`, { signal }).then((body) => body.grants),
    (grants) => table('grants-table', ['Granted to', 'Consumer', 'Purpose', 'Approved by', 'Since'],
      grants.map((g) => [g.requester, g.consumer || '—', g.purpose, g.decidedBy || '—', fmtTime(g.decidedAt)])),
    emptyState('No grants', 'Nobody has been granted access to this product yet.'));
  fill(requestsBox,
    () => api(`/api/v1/access-requests?product=${encodeURIComponent(id)}`, { signal }).then((body) => body.requests),
    (requests) => table('access-requests-table', ['Requester', 'Purpose', 'Status', 'Requested'],
      requests.map((r) => [r.requester, r.purpose, badge(r.status, REQUEST_BADGE[r.status] || 'plain'), fmtTime(r.requestedAt)])),
    emptyState('No access requests', 'Requests to use this product appear here.'));
}

// ----- history -----
function describe(entry) {
  const e = entry.event || {};
  switch (e.type) {
    case 'ProductCreated': return 'Created';
    case 'ProductUpdated': return `Updated ${(entry.changed || []).join(', ') || 'the spec'}`;
    case 'ProductStatusChanged': return `${e.before && e.before.status} → ${e.after && e.after.status}${e.after && e.after.reason ? `: ${e.after.reason}` : ''}`;
    case 'ProductDeleted': return 'Deleted';
    case 'FieldLineageSet': return `Field lineage set (${(e.after || []).length} edges)`;
    default: return e.type || 'Changed';
  }
}

async function renderHistory(el, base, signal) {
  el.appendChild(skeleton('lines', 4));
  try {
    const body = await api(`${base}/history`, { signal });
    clear(el);
    const entries = [...body.history].reverse();
    if (!entries.length) {
      el.appendChild(emptyState('No history', 'Nothing has changed yet.'));
      return;
    }
    el.appendChild(h('ol', { class: 'timeline', 'data-testid': 'history-list', reversed: true }, entries.map((entry) => h('li', { class: 'timeline__item', 'data-testid': 'history-entry' },
      h('div', { class: 'timeline__what' }, describe(entry)),
      h('div', { class: 'hint' }, h('time', { datetime: new Date(entry.at).toISOString() }, fmtTime(entry.at)), ` · by ${entry.actor}`)))));
  } catch (error) {
    if (isAbort(error)) return;
    clear(el);
    el.appendChild(errorState(error));
  }
}
