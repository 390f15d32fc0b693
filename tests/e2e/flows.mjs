// The web application's user flows, in a real browser, against a running `weft demo`:
//   node tests/e2e/flows.mjs http://127.0.0.1:PORT SCREENSHOT_DIR [FLOW...]
// (crates/weft/tests/web_e2e.rs runs it). The flows build on each other in this order: a product
// derived with SQL here is then published, found, traced in lineage, requested, granted and deprecated.
// Any console error or page error in any flow fails the run.

import { Harness, api, assert, eventually, TOKENS } from './harness.mjs';

const [baseUrl, screenshotDir, ...only] = process.argv.slice(2);
if (!baseUrl || !screenshotDir) {
  console.error('usage: node tests/e2e/flows.mjs BASE_URL SCREENSHOT_DIR [FLOW...]');
  process.exit(2);
}

// The product the flows derive with SQL: orders over 100 EUR, in the orders domain (owner alice).
const DERIVED_SOURCE = 'E2E_BIG_ORDERS';
const DERIVED_LOCAL = 'big-orders';
const DERIVED_ID = `orders.${DERIVED_LOCAL}`;
const OWNER = 'alice';
const CONSUMER = 'erin';

/// Makes `name` the acting user: signs out and signs in with their token (the demo's people each have
/// one), or, on a demo without authentication, through the header's "Acting as" field.
async function switchActor(h, page, name) {
  if (Object.keys(TOKENS).length) {
    await signInAs(page, name);
    return;
  }
  const input = page.getByLabel('Acting as');
  await input.fill(name);
  await input.press('Enter');
  await eventually(`the actor becomes ${name}`, () => page.evaluate(() => localStorage.getItem('weft.actor')).then((a) => a === name));
}

/// Signs out whoever is signed in, then signs in as `name` with the sign-in form; stays on the page.
/// The page in front settles first: its requests, answered after the sign-out, would be refused.
async function signInAs(page, name) {
  await page.waitForLoadState('networkidle').catch(() => {});
  const signOut = page.getByTestId('sign-out');
  if (await signOut.count()) {
    await signOut.click();
    await eventually('signed out', async () => ((await page.getByTestId('signed-in-as').count()) === 0));
  }
  await eventually(`signed in as ${name}`, async () => {
    const who = page.getByTestId('signed-in-as');
    if (await who.count()) return ((await who.textContent()) || '').includes(`Signed in as ${name}`);
    const token = page.getByTestId('signin-token');
    if (await token.count()) {
      await token.fill(TOKENS[name]);
      await page.getByTestId('signin-submit').click();
    }
    return false;
  });
  await page.waitForLoadState('networkidle').catch(() => {});
}

async function oneH1(page) {
  await eventually('the page has exactly one <h1>', async () => (await page.locator('h1').count()) === 1);
  return (await page.locator('h1').textContent()).trim();
}

// ------------------------------------------------------------------------------------------------
// Every page renders, with one heading, without errors: a screenshot of each.

async function pages(h) {
  const page = h.page;
  const visits = [
    ['explore', '/'],
    ['explore-filtered', '/explore?q=orders'],
    ['product', '/products/orders.placed'],
    ['product-schema', '/products/orders.placed?tab=schema'],
    ['product-lineage', '/products/orders.enriched?tab=lineage'],
    ['create', '/create'],
    ['manage', '/manage'],
    ['manage-product', '/manage/orders.placed'],
    ['domains', '/domains'],
    ['domain', '/domains/payments'],
    ['governance', '/governance'],
    ['access', '/access'],
    ['not-found', '/no/such/page'],
  ];
  for (const [name, path] of visits) {
    await h.step(`page ${path}`, async () => {
      const response = await page.goto(h.url(path));
      assert(response && response.ok(), `GET ${path} answered ${response && response.status()}`);
      const title = await oneH1(page);
      assert(title.length > 0, `${path} has an empty <h1>`);
      // The server answers every page URL with the app; the app's router alone knows which exist.
      const notFound = await page.getByTestId('not-found').count();
      assert(notFound === (name === 'not-found' ? 1 : 0), `${path}: the not-found view shown ${notFound} times`);
      // Let the page fetch its data before the picture.
      await page.waitForLoadState('networkidle').catch(() => {});
      await h.shot(name);
    });
  }
}

// ------------------------------------------------------------------------------------------------
// Find a product by search and by facet, open it, and see live records arrive.

async function discover(h) {
  const page = h.page;
  const card = (id) => page.locator(`[data-testid="product-card"][data-id="${id}"]`);
  await h.step('search for payments in Explore', async () => {
    await page.goto(h.url('/explore'));
    await page.getByLabel('Search data products').fill('payment');
    await eventually('the search finds payments.transactions', () => card('payments.transactions').isVisible());
    await eventually('the search leaves out unrelated products', async () => (await card('inventory.items').count()) === 0);
    await eventually('the URL keeps the query (shareable)', async () => new URL(page.url()).searchParams.get('q') === 'payment');
    await h.shot('explore-search');
  });
  await h.step('narrow Explore with the domain facet', async () => {
    await page.goto(h.url('/explore'));
    await page.locator('[data-testid="facet-option"][data-facet="domain"][data-value="shipping"]').click();
    await eventually('only shipping products are listed', async () =>
      (await card('shipping.shipments').isVisible()) && (await card('orders.placed').count()) === 0,
    );
    await h.shot('explore-facet');
  });
  await h.step('open a product and watch live records arrive', async () => {
    await card('shipping.shipments').getByRole('link').first().click();
    await eventually('the product page opened', async () => new URL(page.url()).pathname === '/products/shipping.shipments');
    await oneH1(page);
    await page.getByTestId('tab-data').click();
    const rows = page.getByTestId('tail-record');
    const first = await eventually('live records appear', async () => (await rows.count()) || 0, 20_000);
    await eventually('more live records arrive', async () => (await rows.count()) > first, 20_000);
    await h.shot('product-live');
  });
}

// ------------------------------------------------------------------------------------------------
// Derive a stream with SQL: an error first, shown inline, then the fix; create it; publish it.

async function create(h) {
  const page = h.page;
  await h.step(`act as ${OWNER}`, async () => {
    await page.goto(h.url('/create'));
    await switchActor(h, page, OWNER);
  });
  const editor = page.getByLabel('SQL', { exact: true });
  const status = page.getByTestId('sql-status');
  await h.step('a SQL error is shown where it is', async () => {
    await page.goto(h.url('/create'));
    await editor.fill(
      `CREATE STREAM ${DERIVED_SOURCE} WITH (VALUE_FORMAT='JSON_SR') AS\n  SELECT ORDER_ID, CUSTOMER_ID, TOTAL_AMOUNT, CHANEL\n  FROM ORDERS\n  WHERE TOTAL_AMOUNT > 100\n  EMIT CHANGES;`,
    );
    await eventually('the editor marks the statement invalid', async () => (await status.getAttribute('data-state')) === 'invalid');
    const error = page.getByTestId('sql-error').first();
    await error.waitFor();
    assert(/CHANEL/i.test(await error.textContent()), `the error names the unknown column: ${await error.textContent()}`);
    assert((await error.getAttribute('data-line')) === '2', 'the error points at line 2');
    assert(await page.getByTestId('create-run').isDisabled(), 'an invalid statement cannot be run');
    await h.shot('create-error');
  });
  await h.step('the fix validates and previews live rows', async () => {
    await editor.fill(
      `CREATE STREAM ${DERIVED_SOURCE} WITH (VALUE_FORMAT='JSON_SR') AS\n  SELECT ORDER_ID, CUSTOMER_ID, TOTAL_AMOUNT, CHANNEL\n  FROM ORDERS\n  WHERE TOTAL_AMOUNT > 100\n  EMIT CHANGES;`,
    );
    await eventually('the editor marks the statement valid', async () => (await status.getAttribute('data-state')) === 'valid');
    await page.getByTestId('preview-run').click();
    await eventually('the preview shows rows', async () => (await page.getByTestId('preview-row').count()) > 0, 30_000);
    await page.getByTestId('preview-stop').click().catch(() => {});
    await h.shot('create-preview');
  });
  await h.step('create the stream', async () => {
    await page.getByTestId('create-run').click();
    await page.getByTestId('dialog-confirm').click();
    await eventually('the statement ran', async () => /done/i.test(await page.getByTestId('create-result').textContent()));
    await page.getByTestId('publish-form').waitFor();
    await h.shot('create-done');
  });
  await h.step('a refused product id is shown at its field', async () => {
    const form = page.getByTestId('publish-form');
    await form.getByLabel('Domain', { exact: true }).selectOption('orders');
    const id = form.getByLabel('Product id (in the domain)', { exact: true });
    await id.fill('Big Orders');
    await page.getByTestId('publish-submit').click();
    await eventually('the id is marked', async () => (await id.getAttribute('aria-invalid')) === 'true');
    assert(/Big Orders/.test(await page.getByTestId('error-id').textContent()), 'the server\'s refusal is next to the id');
    await h.shot('create-refused-id');
  }, { refusals: [/^\/api\/v1\/products\/from-sql$/] });
  await h.step('describe it as a draft product', async () => {
    const form = page.getByTestId('publish-form');
    await form.getByLabel('Domain', { exact: true }).selectOption('orders');
    await form.getByLabel('Product id (in the domain)', { exact: true }).fill(DERIVED_LOCAL);
    await form.getByLabel('Display name', { exact: true }).fill('Big orders');
    await form.getByLabel('Description', { exact: true }).fill('Orders over 100 EUR, for the key-account team.');
    await form.getByLabel('Quality tier', { exact: true }).selectOption('curated');
    await page.getByTestId('publish-submit').click();
    await eventually('the manage page of the draft opened', async () => new URL(page.url()).pathname === `/manage/${DERIVED_ID}`);
    await page.getByTestId('product-status').waitFor();
    assert(/draft/i.test(await page.getByTestId('product-status').textContent()), 'the new product is a draft');
    await h.shot('manage-draft');
  });
  await h.step('publish it', async () => {
    await page.getByTestId('action-publish').click();
    await page.getByTestId('dialog-confirm').click();
    await eventually('the product is published', async () =>
      /published/i.test(await page.getByTestId('product-status').textContent()),
    );
    const product = await api(h.baseUrl, `/api/v1/products/${DERIVED_ID}`);
    assert(product.lifecycle.status === 'published', 'the catalog says published');
    const upstream = (product.spec.inputPorts || []).map((p) => p.product);
    assert(upstream.includes('orders.placed'), `its input port names orders.placed: ${JSON.stringify(upstream)}`);
    await h.shot('manage-published');
  });
}

// ------------------------------------------------------------------------------------------------
// Create's template gallery: the starting example and every template validate and preview rows on the
// demo. The list is the server's (lib/templates.json), so a template added there is checked here too.

async function templates(h) {
  const page = h.page;
  const { templates: list } = await api(h.baseUrl, '/ui/lib/templates.json');
  assert(list.length >= 5, `the gallery has the five use cases: ${list.map((t) => t.id).join(', ')}`);
  const editor = page.getByLabel('SQL', { exact: true });
  const status = page.getByTestId('sql-status');
  const rowsArrive = () =>
    eventually('the preview shows rows', async () => (await page.getByTestId('preview-row').count()) > 0, 45_000);
  // A preview that reached its row limit has ended already (and its Stop button is disabled). It can
  // end between the look and the click, so a click that finds the button disabled is not a failure;
  // either way the preview must have ended before the next step starts one.
  const stopPreview = async () => {
    const stop = page.getByTestId('preview-stop');
    if (await stop.isEnabled()) await stop.click({ timeout: 2_000 }).catch(() => {});
    await eventually('the preview has ended', async () => !(await stop.isEnabled()), 45_000);
  };
  // Templates read several domains' products (customers' among them): the admin may read them all.
  await h.step('act as admin', async () => {
    await page.goto(h.url('/create'));
    await switchActor(h, page, 'admin');
  });
  await h.step('the starting example validates and previews rows', async () => {
    await page.goto(h.url('/create'));
    // An earlier flow's SQL is kept as this tab's draft; the example shows without one.
    await page.evaluate(() => sessionStorage.removeItem('weft.create.sql'));
    await page.reload();
    await eventually('the editor holds the first template', async () => (await editor.inputValue()) === list[0].sql);
    await eventually('the example is valid', async () => (await status.getAttribute('data-state')) === 'valid');
    // A preview still running (the Preview button is disabled meanwhile) is stopped first: on a loaded
    // machine the previous flow's may not have ended yet.
    await stopPreview();
    await eventually('the Preview button is enabled', () => page.getByTestId('preview-run').isEnabled(), 45_000);
    await page.getByTestId('preview-run').click();
    await rowsArrive();
    await stopPreview();
  });
  for (const template of list) {
    await h.step(`template "${template.id}" loads, validates and previews rows`, async () => {
      const card = page.locator(`[data-testid="template"][data-id="${template.id}"]`);
      assert((await card.textContent()).includes(template.title), `the card of ${template.id} shows its title`);
      await card.getByTestId('template-use').click();
      await eventually('the editor holds the template', async () => (await editor.inputValue()) === template.sql);
      await eventually('the template is valid', async () => (await status.getAttribute('data-state')) === 'valid');
      await rowsArrive();
      await stopPreview();
      await h.shot(`create-template-${template.id}`);
    });
  }
  await h.step('a template asks before it replaces SQL of your own', async () => {
    const own = 'SELECT ORDER_ID FROM ORDERS EMIT CHANGES;';
    await editor.fill(own);
    await page.locator('[data-testid="template"][data-id="filter"]').getByTestId('template-use').click();
    await page.getByTestId('dialog-cancel').click();
    assert((await editor.inputValue()) === own, 'cancelling keeps the SQL');
    await page.locator('[data-testid="template"][data-id="filter"]').getByTestId('template-use').click();
    await page.getByTestId('dialog-confirm').click();
    await eventually('the template replaced it', async () => (await editor.inputValue()) === list[0].sql);
    await rowsArrive();
    await stopPreview();
    await page.evaluate(() => sessionStorage.removeItem('weft.create.sql'));
  });
}

// ------------------------------------------------------------------------------------------------
// The new product in Explore and in its source's lineage graph.

async function lineage(h) {
  const page = h.page;
  await h.step('the new product is found in Explore', async () => {
    await page.goto(h.url('/explore?q=big'));
    await eventually('Explore lists Big orders', () => page.locator(`[data-testid="product-card"][data-id="${DERIVED_ID}"]`).isVisible());
    await h.shot('explore-new-product');
  });
  await h.step("it is in its source's lineage graph", async () => {
    await page.goto(h.url('/products/orders.placed?tab=lineage'));
    const graph = page.getByTestId('lineage-graph');
    await graph.waitFor();
    await eventually('the graph shows the derived product', async () =>
      (await graph.locator(`[data-testid="lineage-node"][data-id="${DERIVED_ID}"]`).count()) > 0,
    );
    await h.shot('lineage-graph');
  });
}

/// Reloads the page and answers false (for `eventually` probes that must look again).
async function reloadFor(page) {
  await page.reload();
  await page.waitForLoadState('networkidle').catch(() => {});
  return false;
}

// ------------------------------------------------------------------------------------------------
// Another team asks for access; the owner grants it.

async function access(h) {
  const page = h.page;
  if (Object.keys(TOKENS).length) {
    // The data is not theirs yet: the page says so (the sample's 403 is the declared refusal).
    await h.step(`${CONSUMER} cannot read the data before a grant`, async () => {
      await page.goto(h.url(`/products/${DERIVED_ID}?tab=data`));
      await switchActor(h, page, CONSUMER);
      await page.getByTestId('no-grant').waitFor();
      await h.shot('access-no-grant');
    }, { refusals: [/\/sample$/] });
  }
  await h.step(`${CONSUMER} requests access`, async () => {
    await page.goto(h.url(`/products/${DERIVED_ID}`));
    await switchActor(h, page, CONSUMER);
    await page.getByTestId('request-access').click();
    const dialog = page.getByTestId('access-request-dialog');
    await dialog.getByLabel(/purpose/i).fill('Ship big orders with insured carriers');
    await dialog.getByTestId('dialog-confirm').click();
    await dialog.waitFor({ state: 'hidden' });
    await h.shot('access-requested');
  });
  await h.step(`${OWNER} sees it pending and grants it`, async () => {
    await page.goto(h.url('/access'));
    await switchActor(h, page, OWNER);
    await page.reload();
    const pending = page.getByTestId('access-pending').getByTestId('access-request').filter({ has: page.locator(`[data-product="${DERIVED_ID}"]`) })
      .or(page.getByTestId('access-pending').locator(`[data-testid="access-request"][data-product="${DERIVED_ID}"]`))
      .first();
    await pending.waitFor();
    await h.shot('access-pending');
    await pending.getByTestId('access-approve').click();
    const decision = page.getByTestId('access-decision-dialog');
    await decision.getByLabel(/reason/i).fill('Approved for fulfilment');
    await decision.getByTestId('dialog-confirm').click();
    await eventually('the request is approved', async () => {
      const answer = await api(h.baseUrl, `/api/v1/products/${DERIVED_ID}/grants`);
      const grants = Array.isArray(answer) ? answer : answer.grants || [];
      return grants.some((g) => JSON.stringify(g).includes(CONSUMER));
    });
    await h.shot('access-granted');
  });
  await h.step(`${CONSUMER} sees the grant`, async () => {
    await switchActor(h, page, CONSUMER);
    await page.goto(h.url('/access'));
    await eventually('the grant is listed', async () =>
      (await page.getByTestId('access-grants').locator(`[data-product="${DERIVED_ID}"]`).count()) > 0,
    );
    await h.shot('access-consumer-grants');
  });
  if (Object.keys(TOKENS).length) {
    await h.step(`${CONSUMER} reads the data once granted`, async () => {
      await page.goto(h.url(`/products/${DERIVED_ID}?tab=data`));
      await page.getByTestId('live-tail').waitFor();
      assert((await page.getByTestId('no-grant').count()) === 0, 'the grant opens the data');
      await h.shot('access-consumer-reads');
      // The grant is the last hop of the product's lineage.
      await page.goto(h.url(`/products/${DERIVED_ID}?tab=lineage`));
      await page.locator(`[data-testid="lineage-consumers"] [data-principal="${CONSUMER}"]`).waitFor();
    });
  }
}

// ------------------------------------------------------------------------------------------------
// The owner deprecates the product.

async function deprecate(h) {
  const page = h.page;
  await h.step(`${OWNER} deprecates it`, async () => {
    await page.goto(h.url(`/manage/${DERIVED_ID}`));
    await switchActor(h, page, OWNER);
    await page.getByTestId('action-deprecate').click();
    const dialog = page.getByTestId('deprecate-dialog');
    await dialog.getByTestId('deprecate-reason').or(dialog.getByLabel(/reason/i)).first().fill('Replaced by orders.enriched with a filter');
    const sunset = new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10);
    await dialog.getByTestId('deprecate-sunset').or(dialog.getByLabel(/sunset/i)).first().fill(sunset);
    await dialog.getByTestId('dialog-confirm').click();
    await eventually('the product is deprecated', async () =>
      /deprecated/i.test(await page.getByTestId('product-status').textContent()),
    );
    const product = await api(h.baseUrl, `/api/v1/products/${DERIVED_ID}`);
    assert(product.lifecycle.status === 'deprecated' && product.lifecycle.sunset === sunset, JSON.stringify(product.lifecycle));
    await h.shot('manage-deprecated');
  });
  await h.step('Explore shows it as deprecated', async () => {
    await page.goto(h.url(`/products/${DERIVED_ID}`));
    await eventually('the product page says deprecated', async () => /deprecated/i.test(await page.locator('main').textContent()));
    await h.shot('product-deprecated');
  });
}

// ------------------------------------------------------------------------------------------------
// The rules are the server's: a draft's publishing gaps next to their fields on Manage (from
// POST /api/v1/products:check) going away as they are filled, a value the server cannot read marked at
// its field, the Governance page's violations from its one endpoint, the schema table from the server.

const DRAFT_ID = 'orders.e2e-signups';
const DRAFT_TOPIC = 'orders.e2e-signups';
const DRAFT_SCHEMA = {
  type: 'record',
  name: 'Signup',
  fields: [
    { name: 'signup_id', type: 'string', doc: 'The signup id.' },
    {
      name: 'contact',
      type: { type: 'record', name: 'Contact', fields: [{ name: 'email', type: ['null', 'string'], default: null, classification: 'pii' }] },
      doc: 'How to reach the customer.',
    },
  ],
};

/** The `(kind, product)` pairs the Governance page lists, sorted. */
async function listedViolations(page) {
  const items = page.getByTestId('violations').getByTestId('violation');
  const pairs = [];
  for (let i = 0; i < (await items.count()); i += 1) {
    pairs.push(`${await items.nth(i).getAttribute('data-kind')} ${await items.nth(i).getAttribute('data-id')}`);
  }
  return pairs.sort();
}

async function rules(h) {
  const page = h.page;
  await h.step('a draft with gaps exists (through the API)', async () => {
    await api(h.baseUrl, '/api/v1/topics', { method: 'POST', body: { name: DRAFT_TOPIC, partitions: 1 } });
    await api(h.baseUrl, `/registry/subjects/${DRAFT_TOPIC}-value/versions`, {
      method: 'POST',
      body: { schema: JSON.stringify(DRAFT_SCHEMA) },
    });
    await api(h.baseUrl, '/api/v1/products', {
      method: 'POST',
      actor: OWNER,
      body: {
        id: DRAFT_ID,
        name: 'Signups',
        owner: OWNER,
        outputPorts: [{ name: 'events', version: '1.0.0', topic: DRAFT_TOPIC, schemaSubject: `${DRAFT_TOPIC}-value`, format: 'avro' }],
      },
    });
  });

  const violationCalls = [];
  const statsCalls = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname === '/api/v1/governance/violations') violationCalls.push(url.search);
    if (/^\/api\/v1\/products\/[^/]+\/stats$/.test(url.pathname)) statsCalls.push(url.pathname);
  });
  await h.step('Governance lists the violations from its one endpoint', async () => {
    await page.goto(h.url('/governance'));
    await switchActor(h, page, OWNER);
    const draft = page.locator(`[data-testid="violation"][data-kind="cannot-publish"][data-id="${DRAFT_ID}"]`);
    await draft.waitFor();
    const answer = await api(h.baseUrl, '/api/v1/governance/violations');
    const expected = answer.violations.map((v) => `${v.kind} ${v.product}`).sort();
    await eventually('the page lists exactly the server\'s violations', async () =>
      JSON.stringify(await listedViolations(page)) === JSON.stringify(expected));
    const count = (await page.getByTestId('summary-cannot-publish').textContent()).match(/\d+/)[0];
    assert(Number(count) === answer.counts['cannot-publish'], `summary says ${count}, the server ${answer.counts['cannot-publish']}`);
    assert(/description/.test(await draft.textContent()), `the server's details are shown: ${await draft.textContent()}`);
    await h.shot('governance-violations');
    await page.getByLabel('Domain', { exact: true }).selectOption('payments');
    await eventually('the domain filter asks the server for that domain', async () => violationCalls.includes('?domain=payments'));
    await eventually('the draft of orders is not listed for payments', async () => (await draft.count()) === 0);
    assert(statsCalls.length === 0, `Governance asked for statistics: ${statsCalls.join(', ')}`);
  });

  const gap = (field) => page.getByTestId(`gap-${field}`);
  await h.step('Manage shows the gaps next to their fields', async () => {
    await page.goto(h.url(`/manage/${DRAFT_ID}`));
    await eventually('the description gap is shown', async () => /description/i.test(await gap('description').textContent()));
    await eventually('the quality tier gap is shown', async () => /qualityTier/i.test(await gap('qualityTier').textContent()));
    assert(await gap('description').isVisible(), 'the gap is visible next to Description');
    const listed = page.getByTestId('requirements').getByTestId('gap');
    const fields = await listed.evaluateAll((items) => items.map((i) => i.dataset.field).sort());
    assert(JSON.stringify(fields) === JSON.stringify(['description', 'qualityTier']), `the checklist lists ${fields}`);
    assert((await page.getByTestId('publish-ready').count()) === 0, 'not ready to publish');
    assert(/documentation/i.test(await page.getByTestId('recommendation-documentation').textContent()), 'recommendations are hints next to their fields');
    await h.shot('manage-gaps');
  });
  await h.step('a value the server cannot read is marked at its field', async () => {
    await page.getByLabel('Freshness objective', { exact: true }).fill('15x');
    await eventually('the freshness objective is marked', async () =>
      /duration/i.test(await page.getByTestId('error-freshnessObjective').textContent()));
    assert((await page.getByTestId('requirements').getAttribute('data-state')) === 'invalid', 'the checklist waits for a readable spec');
    await h.shot('manage-invalid-field');
    await page.getByLabel('Freshness objective', { exact: true }).fill('15m');
    await eventually('the mark goes away', async () => (await page.getByTestId('error-freshnessObjective').textContent()) === '');
  }, { refusals: [/^\/api\/v1\/products:check$/] });
  await h.step('the gaps go away as the fields are filled', async () => {
    await page.getByLabel('Description', { exact: true }).fill('Every customer signup, with how to reach them.');
    await eventually('the description gap is gone', async () => (await gap('description').textContent()) === '');
    assert(/qualityTier/i.test(await gap('qualityTier').textContent()), 'the quality tier gap stays until it is set');
    await page.getByLabel('Quality tier', { exact: true }).selectOption('curated');
    await eventually('the quality tier gap is gone', async () => (await gap('qualityTier').textContent()) === '');
    await page.getByTestId('publish-ready').waitFor();
    await h.shot('manage-ready');
    await page.getByTestId('action-save').click();
    await eventually('saved', async () => (await page.getByTestId('form-message').getAttribute('data-kind')) === 'ok');
  });
  await h.step('Governance no longer counts the draft as blocked', async () => {
    await page.goto(h.url('/governance'));
    await page.getByTestId('summary-cannot-publish').waitFor();
    await eventually('the draft is no longer listed', async () =>
      (await page.locator(`[data-testid="violation"][data-kind="cannot-publish"][data-id="${DRAFT_ID}"]`).count()) === 0);
  });
  await h.step("the product page's schema table shows the server's fields", async () => {
    await page.goto(h.url(`/products/${DRAFT_ID}?tab=schema`));
    const rows = page.getByTestId('schema-table').getByTestId('schema-field');
    await rows.first().waitFor();
    const schema = await api(h.baseUrl, `/api/v1/products/${DRAFT_ID}/schema`);
    const shown = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.field));
    const served = schema.fields.map((f) => f.path);
    assert(JSON.stringify(shown) === JSON.stringify(served), `the table shows ${shown}, the server ${served}`);
    assert(served.includes('contact.email'), `nested fields come flattened: ${served}`);
    const email = page.locator('[data-testid="schema-field"][data-field="contact.email"]');
    assert(/pii/.test(await email.textContent()) && /optional/.test(await email.textContent()), `${await email.textContent()}`);
    await h.shot('product-schema-fields');
  });
}

// ------------------------------------------------------------------------------------------------
// Dead letters: a record that breaks its port's schema waits on the product page with the rule it
// broke; after the schema is fixed, Replay moves it into the product; another is dropped with a reason.

const DLQ_ID = 'orders.e2e-returns';
const DLQ_SCHEMA = (amountType) => ({
  type: 'record',
  name: 'Return',
  fields: [{ name: 'return_id', type: 'string' }, { name: 'amount', type: amountType }],
});

async function deadLetters(h) {
  const page = h.page;
  const base = `/api/v1/products/${DLQ_ID}`;
  await h.step('a dead-letter product and two refused records (through the API)', async () => {
    await api(h.baseUrl, '/api/v1/topics', { method: 'POST', body: { name: DLQ_ID, partitions: 1 } });
    await api(h.baseUrl, `/registry/subjects/${DLQ_ID}-value/versions`, { method: 'POST', body: { schema: JSON.stringify(DLQ_SCHEMA('double')) } });
    await api(h.baseUrl, '/api/v1/products', {
      method: 'POST',
      actor: OWNER,
      body: { id: DLQ_ID, name: 'Returns', owner: OWNER, outputPorts: [{ name: 'events', version: '1.0.0', topic: DLQ_ID, schemaSubject: `${DLQ_ID}-value`, format: 'avro' }] },
    });
    await api(h.baseUrl, `${base}/governance`, { method: 'PUT', actor: OWNER, body: { policy: 'dead-letter' } });
    const produced = await api(h.baseUrl, `/api/v1/topics/${DLQ_ID}/records`, {
      method: 'POST',
      body: [
        { key: 'r-1', value: { return_id: 'r-1', amount: 12.5 } },
        { key: 'r-2', value: { return_id: 'r-2', amount: '12,50' } },
      ],
    });
    assert(produced.accepted === 1 && produced.dead_lettered === 1, JSON.stringify(produced));
  });
  await h.step('the product page shows the dead letter with its rule', async () => {
    await page.goto(h.url(`/products/${DLQ_ID}`));
    const panel = page.getByTestId('dead-letters-panel');
    const row = panel.getByTestId('dead-letter-row');
    await eventually('one dead letter is listed', async () => (await row.count()) === 1);
    const text = await row.first().textContent();
    assert(/"r-2"/.test(text) && /schema/.test(text) && /value\.amount/.test(text), text);
    assert(/dead-letter/.test(await panel.getByTestId('dead-letter-policy').textContent()), 'the policy is shown');
    assert((await page.getByTestId('stat-dead-letters').textContent()).includes('1'), 'the summary counts it');
    await h.shot('product-dead-letters');
  });
  await h.step('after the schema takes the value, Replay moves it into the product', async () => {
    await api(h.baseUrl, `/registry/subjects/${DLQ_ID}-value/versions`, { method: 'POST', body: { schema: JSON.stringify(DLQ_SCHEMA(['double', 'string'])) } });
    await page.getByTestId('dead-letters-panel').getByTestId('dead-letters-replay').click();
    await eventually('the dead letter is replayed', async () => (await page.getByTestId('dead-letters-panel').getByTestId('dead-letter-row').count()) === 0);
    const read = await api(h.baseUrl, `/api/v1/topics/${DLQ_ID}/records`);
    assert(read.records.some((r) => r.key === 'r-2'), JSON.stringify(read.records));
    await h.shot('product-dead-letters-replayed');
  });
  await h.step("a demo product's contract and its rules are on its page", async () => {
    await page.goto(h.url('/products/payments.transactions'));
    const panel = page.getByTestId('contract-panel');
    await eventually('the contract is shown', async () => /payments-transactions 1\.0\.0/.test(await panel.getByTestId('contract-id').textContent()));
    const rule = panel.locator('[data-testid="contract-rule"][data-rule="captured_payments_charge_something"]');
    assert((await rule.count()) === 1, 'the SQL rule is listed');
    assert(!/not at write/.test(await rule.textContent()), 'it is checked on every write');
    await h.shot('product-contract');
  });
  await h.step('another is dropped with a reason', async () => {
    await api(h.baseUrl, `/api/v1/topics/${DLQ_ID}/records`, { method: 'POST', body: [{ key: 'r-3', value: { amount: 1 } }] });
    await page.goto(h.url(`/products/${DLQ_ID}`));
    const panel = page.getByTestId('dead-letters-panel');
    await eventually('the new dead letter is listed', async () => (await panel.getByTestId('dead-letter-row').count()) === 1);
    await panel.getByTestId('dead-letters-drop').click();
    const dialog = page.getByTestId('drop-dead-letters-dialog');
    await dialog.getByLabel(/reason/i).fill('A return without an id cannot be matched');
    await dialog.getByTestId('dialog-confirm').click();
    await eventually('nothing waits any more', async () => (await panel.getByTestId('dead-letter-row').count()) === 0);
    const all = await api(h.baseUrl, `${base}/dead-letters?include_resolved=true`);
    const dropped = all.entries.find((e) => e.key === 'r-3');
    assert(dropped && dropped.resolution.action === 'dropped' && /cannot be matched/.test(dropped.resolution.reason), JSON.stringify(all));
  });
}

// ------------------------------------------------------------------------------------------------
// Global policies: the admin makes curated products need a contract on the Governance page; a
// curated draft without one is listed as blocked and its publication refused with the policy's gap.
// Everyone else sees the policies read-only. Contract failures come from the one mesh-wide endpoint.

const POLICY_DRAFT_ID = 'orders.e2e-coupons';

async function policies(h) {
  const page = h.page;
  await h.step('a curated draft without a contract (through the API)', async () => {
    await api(h.baseUrl, '/api/v1/topics', { method: 'POST', body: { name: POLICY_DRAFT_ID, partitions: 1 } });
    await api(h.baseUrl, `/registry/subjects/${POLICY_DRAFT_ID}-value/versions`, {
      method: 'POST',
      body: { schema: JSON.stringify({ type: 'record', name: 'Coupon', fields: [{ name: 'code', type: 'string' }] }) },
    });
    await api(h.baseUrl, '/api/v1/products', {
      method: 'POST',
      actor: OWNER,
      body: {
        id: POLICY_DRAFT_ID, name: 'Coupons', owner: OWNER, description: 'Coupons handed out.', qualityTier: 'curated',
        outputPorts: [{ name: 'events', version: '1.0.0', topic: POLICY_DRAFT_ID, schemaSubject: `${POLICY_DRAFT_ID}-value`, format: 'avro' }],
      },
    });
  });
  const blocked = () => page.locator(`[data-testid="violation"][data-kind="contract-required"][data-id="${POLICY_DRAFT_ID}"]`);
  await h.step('others see the policies read-only', async () => {
    await page.goto(h.url('/governance'));
    await switchActor(h, page, OWNER);
    const form = page.getByTestId('policies-form');
    await eventually('the policies are shown', async () => (await form.count()) === 1 && (await form.getAttribute('data-editable')) === 'false');
    assert((await page.getByTestId('policies-save').count()) === 0, 'no save button for a non-admin');
    assert(await page.getByLabel('Enforce Data contract required by quality tier').isDisabled(), 'the form is read-only');
  });
  await h.step('the admin requires contracts of curated products, and the draft is blocked', async () => {
    await switchActor(h, page, 'admin');
    const form = page.getByTestId('policies-form');
    await eventually('the form is editable', async () => (await form.getAttribute('data-editable')) === 'true');
    const before = Number(await form.getAttribute('data-version'));
    assert((await blocked().count()) === 0, 'not blocked before the change');
    const policy = page.getByTestId('policy-contractRequired');
    await page.getByLabel('Enforce Data contract required by quality tier').check();
    await policy.getByLabel('curated').check();
    await policy.getByLabel('Enforcement').selectOption('block');
    await page.getByTestId('policies-save').click();
    await eventually('saved', async () => (await page.getByTestId('policies-message').getAttribute('data-kind')) === 'ok');
    const saved = await api(h.baseUrl, '/api/v1/governance/policies');
    assert(saved.version === before + 1, `a new version: ${saved.version}`);
    assert(saved.policies.contractRequired.qualityTiers.includes('curated'), JSON.stringify(saved.policies));
    await blocked().waitFor();
    assert((await blocked().getAttribute('data-blocks')) === 'true', 'listed as blocking');
    assert(/contract/.test(await blocked().textContent()), await blocked().textContent());
    await h.shot('governance-policies');
  });
  await h.step('publishing the draft is refused with the policy as its gap', async () => {
    let refusal = null;
    try {
      await api(h.baseUrl, `/api/v1/products/${POLICY_DRAFT_ID}/publish`, { method: 'POST', actor: OWNER, body: {} });
    } catch (error) {
      refusal = error.message;
    }
    assert(refusal && /HTTP 422/.test(refusal) && /42207/.test(refusal) && /contract-required/.test(refusal), `publish answered ${refusal}`);
  });
  await h.step('a bad pattern is refused at its policy', async () => {
    await page.getByLabel('Enforce Naming conventions').check();
    await page.getByLabel('Product ids match').fill('([');
    await page.getByTestId('policies-save').click();
    await eventually('the error is shown at the naming policy', async () =>
      /naming\.productId/.test(await page.getByTestId('policy-error-naming').textContent()));
  }, { refusals: [/^\/api\/v1\/governance\/policies$/] });
  await h.step('the admin lifts the requirement again', async () => {
    await page.reload();
    const policy = page.getByTestId('policy-contractRequired');
    await policy.getByLabel('curated').uncheck();
    await page.getByTestId('policies-save').click();
    await eventually('saved', async () => (await page.getByTestId('policies-message').getAttribute('data-kind')) === 'ok');
    await eventually('the draft is no longer blocked', async () => (await blocked().count()) === 0);
  });
  await h.step('contract failures: per product, the unresolved dead letters by rule', async () => {
    // The demo's generators keep making defects: the page and the API agree once both read the same
    // moment, so a disagreement reloads the page and asks again.
    let answer;
    await eventually('the page lists what the API answers', async () => {
      answer = await api(h.baseUrl, '/api/v1/governance/dead-letters');
      const items = page.getByTestId('contract-failures').getByTestId('contract-failure');
      const listed = await eventually('the list is drawn', async () => (await items.count()) > 0 && items.count());
      if (listed !== answer.products.length) return reloadFor(page);
      for (const product of answer.products) {
        const item = page.locator(`[data-testid="contract-failure"][data-id="${product.product}"]`);
        if ((await item.getAttribute('data-unresolved')) !== String(product.unresolved)) return reloadFor(page);
        for (const rule of Object.keys(product.by_rule)) {
          if ((await item.locator(`[data-rule="${rule}"]`).count()) !== 1) return reloadFor(page);
        }
      }
      return true;
    }, 30_000);
    assert(answer.products.length > 0 && answer.unresolved > 0, `the demo has contract failures: ${JSON.stringify(answer)}`);
    const first = answer.products[0];
    await page.locator(`[data-testid="contract-failure"][data-id="${first.product}"] a`).first().click();
    await eventually('the link leads to the product page', async () => new URL(page.url()).pathname === `/products/${first.product}`);
    await page.goBack();
    await h.shot('governance-contract-failures');
  });
}

// ------------------------------------------------------------------------------------------------
// The platform admin follows the security audit live on the Governance page.

async function audit(h) {
  const page = h.page;
  if (!Object.keys(TOKENS).length) return;
  await h.step('the admin sees the security audit, and a new change arrives live', async () => {
    await switchActor(h, page, 'admin');
    await page.goto(h.url('/governance#security-audit'));
    await eventually('audit entries are listed', async () => (await page.getByTestId('security-audit-entry').count()) > 0);
    await api(h.baseUrl, '/api/v1/topics', { method: 'POST', body: { name: 'e2e-audit-live' } });
    await api(h.baseUrl, '/api/v1/topics/e2e-audit-live', { method: 'DELETE' });
    await eventually('the new change appears without a reload', async () =>
      (await page.getByTestId('security-audit').textContent()).includes('/api/v1/topics/e2e-audit-live'));
    await h.shot('governance-security-audit');
  });
}

// ------------------------------------------------------------------------------------------------
// SQL names and products: a product page names the stream over its port (declaring it with one click
// when there is none), and the SQL editor's source list says which product each stream serves.

async function sqlNames(h) {
  const page = h.page;
  const product = 'shipping.shipments'; // the demo declares no stream over its topic
  let name = '';
  await h.step('act as erin (shipping owner)', async () => {
    await page.goto(h.url(`/products/${product}`));
    await switchActor(h, page, CONSUMER);
  });
  await h.step("a product page declares the product's stream with one click", async () => {
    await page.goto(h.url(`/products/${product}`));
    const panel = page.getByTestId('sql-source');
    await panel.getByTestId('sql-source-declare').click();
    await panel.getByTestId('sql-source-statement').waitFor();
    name = (await panel.getByTestId('sql-source-name').textContent()).trim();
    assert(name === 'SHIPPING_SHIPMENTS', `the stream is named for the product: ${name}`);
    assert(/KAFKA_TOPIC='shipping.shipments'/.test(await panel.getByTestId('sql-source-statement').textContent()), 'the statement reads its topic');
    await h.shot('product-sql-source');
  });
  await h.step('on the next visit the page names the same stream, and links to the editor', async () => {
    await page.goto(h.url(`/products/${product}`));
    const item = page.locator(`[data-testid="sql-source-item"][data-name="${name}"]`);
    await item.waitFor();
    assert((await page.getByTestId('sql-source-declare').count()) === 0, 'nothing more to declare');
    await item.getByTestId('sql-source-query').click();
    await eventually('the SQL editor opened on it', async () => new URL(page.url()).pathname === '/create');
  });
  await h.step('the source list names the product each stream serves', async () => {
    const served = (source, id) => page.locator(`[data-testid="source"][data-name="${source}"] [data-testid="source-product"][data-product="${id}"]`);
    await eventually(`${name} serves ${product}`, () => served(name, product).isVisible());
    await eventually('ORDERS serves orders.placed', () => served('ORDERS', 'orders.placed').isVisible());
    await h.shot('create-sources-products');
  });
}

const FLOWS = { pages, discover, create, lineage, access, deprecate, rules, deadLetters, policies, audit, sqlNames, templates };

const selected = only.length ? only : Object.keys(FLOWS);
const unknown = selected.filter((name) => !FLOWS[name]);
if (unknown.length) {
  console.error(`unknown flow(s) ${unknown.join(', ')}; known: ${Object.keys(FLOWS).join(', ')}`);
  process.exit(2);
}

const h = new Harness(baseUrl, screenshotDir);
let failed = false;
try {
  await h.launch();
  if (Object.keys(TOKENS).length) {
    await h.step('sign in as admin', async () => {
      await h.page.goto(h.url('/'));
      await signInAs(h.page, 'admin');
      await h.shot('signed-in');
    });
  }
  for (const name of selected) {
    console.log(`flow ${name}`);
    await FLOWS[name](h);
  }
} catch (error) {
  failed = true;
  console.error(`\nFAILED: ${error.stack || error.message}`);
} finally {
  await h.close();
}
if (h.errors.length) {
  failed = true;
  console.error(`\n${h.errors.length} browser error(s):\n${h.errors.join('\n')}`);
}
console.log(`${h.shots} screenshot(s) in ${screenshotDir}`);
process.exit(failed ? 1 : 0);
