// Domains: the list (/domains) and one domain (/domains/{name}).
//
// Data: GET /api/v1/domains, GET /api/v1/products (counted per domain, one request for the list),
// GET /api/v1/domains/{name}, /domains/{name}/products, /domains/{name}/history.
//
// data-testid hooks:
//   list:   domain-list, domain-card (data-name), domain-product-count, domain-member-count
//   detail: domain-header, domain-team, domain-contact, domain-members (table), domain-member (row, data-user),
//           domain-products, domain-product (row, data-id), domain-history
//   both:   empty-state, error-state

import { api, isAbort, seg } from '../lib/api.js';
import { h, clear, ensureStyle, fmtNumber, fmtTime, fmtAgo } from '../lib/dom.js';
import { statusBadge, tierBadge, badge, skeleton, emptyState, errorState, props } from '../lib/ui.js';

export async function render(root, params, ctx) {
  ensureStyle('/ui/pages/domains.css');
  if (params.name) return renderDomain(root, params.name, ctx);
  return renderList(root, ctx);
}

function plural(n, word) {
  return `${fmtNumber(n)} ${word}${n === 1 ? '' : 's'}`;
}

function contactNode(contact) {
  if (!contact) return h('span', { class: 'muted' }, 'No contact given');
  if (/^https?:\/\//.test(contact)) return h('a', { href: contact, rel: 'noopener noreferrer' }, contact);
  if (/^[^\s@]+@[^\s@]+$/.test(contact)) return h('a', { href: `mailto:${contact}` }, contact);
  return h('span', null, contact);
}

async function renderList(root, ctx) {
  ctx.setTitle('Domains');
  const list = h('div', { class: 'grid domain-grid', 'data-testid': 'domain-list', 'aria-busy': 'true' },
    Array.from({ length: 3 }, () => h('div', { class: 'skeleton skeleton--card', 'aria-hidden': 'true' })));
  root.append(
    h('div', { class: 'page-header' }, h('div', null,
      h('h1', null, 'Domains'),
      h('p', { class: 'lead' }, 'The teams that own data products, their people and what they publish.'))),
    list);
  try {
    const [domains, products] = await Promise.all([
      api('/api/v1/domains', { signal: ctx.signal }),
      api('/api/v1/products', { signal: ctx.signal }),
    ]);
    clear(list);
    list.setAttribute('aria-busy', 'false');
    const counts = new Map();
    for (const p of products.products) {
      const name = p.spec.id.split('.')[0];
      const c = counts.get(name) || { total: 0, published: 0 };
      c.total += 1;
      if (p.lifecycle.status === 'published') c.published += 1;
      counts.set(name, c);
    }
    if (!domains.domains.length) {
      list.appendChild(emptyState('No domains yet', 'A domain groups the data products one team owns. Create one with the API or the CLI (weft domain create).'));
      return undefined;
    }
    for (const d of domains.domains) {
      const spec = d.spec;
      const c = counts.get(spec.name) || { total: 0, published: 0 };
      const owners = spec.members.filter((m) => m.role === 'owner').map((m) => m.user);
      list.appendChild(h('article', { class: 'card card--link domain-card', 'data-testid': 'domain-card', 'data-name': spec.name },
        h('h2', { class: 'card__title' }, h('a', { href: `/domains/${seg(spec.name)}` }, spec.name)),
        h('p', { class: 'domain-card__team' }, spec.owningTeam),
        h('p', { class: 'card__body domain-card__desc' }, spec.description || 'No description yet.'),
        h('div', { class: 'domain-card__numbers' },
          h('span', { 'data-testid': 'domain-product-count' }, h('strong', null, fmtNumber(c.total)), c.total === 1 ? ' product' : ' products',
            c.total ? h('span', { class: 'hint' }, ` (${fmtNumber(c.published)} published)`) : null),
          h('span', { 'data-testid': 'domain-member-count' }, h('strong', null, fmtNumber(spec.members.length)), spec.members.length === 1 ? ' member' : ' members')),
        owners.length ? h('p', { class: 'card__meta' }, `Owner${owners.length === 1 ? '' : 's'}: ${owners.join(', ')}`) : null));
    }
  } catch (error) {
    if (isAbort(error)) return undefined;
    clear(list);
    list.setAttribute('aria-busy', 'false');
    list.appendChild(errorState(error, () => ctx.navigate('/domains', { replace: true })));
  }
  return undefined;
}

function describe(entry) {
  const e = entry.event || {};
  switch (e.type) {
    case 'DomainCreated': return 'Domain created';
    case 'DomainUpdated': return `Domain updated: ${(entry.changed || []).join(', ') || 'details'}`;
    case 'DomainDeleted': return 'Domain deleted';
    default: return e.type || 'Changed';
  }
}

async function renderDomain(root, name, ctx) {
  ctx.setTitle(`Domain ${name}`);
  const header = h('div', { class: 'page-header', 'data-testid': 'domain-header' }, h('div', null, h('h1', null, name), skeleton('lines', 1)));
  const aboutBox = h('div', null, skeleton('lines', 3));
  const membersBox = h('div', null, skeleton('lines', 3));
  const productsBox = h('div', null, skeleton('lines', 3));
  const historyBox = h('div', null, skeleton('lines', 2));
  root.append(
    h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/domains' }, 'Domains'), ' / ', h('span', { 'aria-current': 'page' }, name)),
    header,
    h('div', { class: 'domain-layout' },
      h('div', { class: 'stack' },
        h('section', { class: 'panel', 'aria-labelledby': 'domain-products-title' },
          h('div', { class: 'panel__header' }, h('h2', { id: 'domain-products-title' }, 'Data products'),
            h('a', { class: 'btn btn--small', href: `/explore?domain=${encodeURIComponent(name)}` }, 'Search in this domain')),
          productsBox)),
      h('div', { class: 'stack' },
        h('section', { class: 'panel', 'aria-labelledby': 'domain-about-title' }, h('h2', { id: 'domain-about-title' }, 'About'), aboutBox),
        h('section', { class: 'panel', 'aria-labelledby': 'domain-members-title' }, h('h2', { id: 'domain-members-title' }, 'Members'), membersBox),
        h('section', { class: 'panel', 'aria-labelledby': 'domain-history-title' }, h('h2', { id: 'domain-history-title' }, 'Recent changes'), historyBox))));

  let domain;
  try {
    domain = await api(`/api/v1/domains/${seg(name)}`, { signal: ctx.signal });
  } catch (error) {
    if (isAbort(error)) return undefined;
    clear(root);
    root.append(
      h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/domains' }, 'Domains'), ' / ', name),
      h('div', { class: 'page-header' }, h('h1', null, name)),
      error.status === 404
        ? emptyState('No such domain', `The catalog has no domain called ${name}.`, h('a', { class: 'btn', href: '/domains' }, 'All domains'))
        : errorState(error, () => ctx.navigate(`/domains/${seg(name)}`, { replace: true })));
    return undefined;
  }
  const spec = domain.spec;
  clear(header);
  header.appendChild(h('div', null,
    h('h1', null, spec.name),
    h('p', { class: 'lead' }, h('span', { 'data-testid': 'domain-team' }, spec.owningTeam), ' · ',
      h('span', { 'data-testid': 'domain-contact' }, contactNode(spec.contact)))));
  clear(aboutBox);
  aboutBox.append(
    spec.description ? h('p', { class: 'domain-desc' }, spec.description) : h('p', { class: 'muted' }, 'No description yet.'),
    props([
      ['Owning team', spec.owningTeam],
      ['Contact', contactNode(spec.contact)],
      ['Created', fmtTime(domain.createdAt)],
      ['Updated', `${fmtTime(domain.updatedAt)} (revision ${domain.revision})`],
    ]));
  clear(membersBox);
  const roleOrder = { owner: 0, member: 1 };
  const members = [...spec.members].sort((a, b) => (roleOrder[a.role] ?? 9) - (roleOrder[b.role] ?? 9) || a.user.localeCompare(b.user));
  membersBox.appendChild(members.length
    ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'domain-members' },
      h('caption', { class: 'visually-hidden' }, `Members of ${spec.name}`),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Person'), h('th', { scope: 'col' }, 'Role'))),
      h('tbody', null, members.map((m) => h('tr', { 'data-testid': 'domain-member', 'data-user': m.user },
        h('td', null, m.user), h('td', null, badge(m.role, m.role === 'owner' ? 'info' : 'plain')))))))
    : emptyState('No members', 'Nobody is listed in this domain.'));

  api(`/api/v1/domains/${seg(name)}/products`, { signal: ctx.signal }).then((body) => {
    clear(productsBox);
    const products = body.products;
    if (!products.length) {
      productsBox.appendChild(emptyState('No data products yet', `${spec.name} has not created any data products.`,
        h('a', { class: 'btn btn--primary', href: '/create' }, 'Create a data product')));
      return;
    }
    const order = { published: 0, deprecated: 1, draft: 2, retired: 3 };
    products.sort((a, b) => (order[a.lifecycle.status] ?? 9) - (order[b.lifecycle.status] ?? 9) || a.spec.id.localeCompare(b.spec.id));
    productsBox.appendChild(h('p', { class: 'hint' }, plural(products.length, 'data product')));
    productsBox.appendChild(h('ul', { class: 'domain-products', 'data-testid': 'domain-products' }, products.map((p) => h('li', { class: 'domain-product', 'data-testid': 'domain-product', 'data-id': p.spec.id },
      h('div', { class: 'domain-product__head' },
        h('a', { class: 'domain-product__name', href: `/products/${seg(p.spec.id)}` }, p.spec.name || p.spec.id),
        h('span', { class: 'row domain-product__badges' }, statusBadge(p.lifecycle.status), tierBadge(p.spec.qualityTier))),
      h('p', { class: 'mono hint domain-product__id' }, p.spec.id, ` · owner ${p.spec.owner} · updated ${fmtAgo(p.updatedAt)}`),
      p.spec.description ? h('p', { class: 'domain-product__desc' }, p.spec.description) : null))));
  }, (error) => {
    if (isAbort(error)) return;
    clear(productsBox);
    productsBox.appendChild(errorState(error));
  });

  api(`/api/v1/domains/${seg(name)}/history`, { signal: ctx.signal }).then((body) => {
    clear(historyBox);
    const entries = [...body.history].reverse().slice(0, 8);
    historyBox.appendChild(entries.length
      ? h('ol', { class: 'domain-history', 'data-testid': 'domain-history' }, entries.map((e) => h('li', null,
        h('span', null, describe(e)), h('span', { class: 'hint' }, ` · ${e.actor}, ${fmtAgo(e.at)}`))))
      : h('p', { class: 'muted' }, 'No changes recorded.'));
  }, (error) => {
    if (isAbort(error)) return;
    clear(historyBox);
    historyBox.appendChild(errorState(error));
  });
  return undefined;
}
