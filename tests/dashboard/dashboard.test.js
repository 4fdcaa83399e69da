// The llm_status dashboard in a real browser: Debian's Chromium, driven by
// playwright-core (pinned in package-lock.json).  run.sh starts the
// gateway and its mock providers; this file sends a known set of requests,
// checks that the status JSON counts them, then opens the page and checks
// that every row shows the JSON's numbers, that the page loaded nothing
// but the gateway's own URLs and that nothing was logged as an error.
//
//   DASHBOARD_MIX    "gateway" (examples/gateway.conf) or "ab"
//                    (tests/gateway-ab.conf: prices, named routes, a
//                    limit zone, the response cache, an embeddings
//                    request)
//   GATEWAY_URL      default http://127.0.0.1:8080
//   CHROMIUM         default /usr/bin/chromium
//   SCREENSHOT_PATH  when set: after a varied traffic mix, a full-page
//                    screenshot 1280 wide there (SCREENSHOT_SECONDS long)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.GATEWAY_URL || 'http://127.0.0.1:8080';
const origin = new URL(base).origin;
const statusUrl = base + '/llm/status';
const mix = process.env.DASHBOARD_MIX || 'gateway';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const screenshotPath = process.env.SCREENSHOT_PATH || '';
const screenshotSeconds = Number(process.env.SCREENSHOT_SECONDS || 75);

const models = ['mock-openai', 'mock-mistral', 'mock-anthropic',
                'mock-gemini', 'mock-cohere'];
const failureClasses = ['connect', 'timeout', 'http_429', 'http_5xx',
                        'http_4xx', 'invalid', 'client_abort'];

const tools = [{
    type: 'function',
    function: {
        name: 'get_weather',
        description: 'Current weather in a city',
        parameters: { type: 'object',
                      properties: { city: { type: 'string' } },
                      required: ['city'] },
    },
}];

// one chat request (or embeddings request: embed), its answer read to the
// end; path: the location ("/cached/v1/" for the response cache)
async function chat(model, { stream = false, text = 'Hello', headers = {},
                             withTools = false, path = '/v1/',
                             embed = false } = {}) {
    const body = embed ? { model, input: text }
                       : { model, stream,
                           messages: [{ role: 'user', content: text }] };

    if (withTools) {
        body.tools = tools;
    }

    const r = await fetch(base + path
                          + (embed ? 'embeddings' : 'chat/completions'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify(body),
    });
    const answer = await r.text();

    return { status: r.status, answer,
             provider: r.headers.get('x-llm-provider'),
             attempts: Number(r.headers.get('x-llm-attempts')) };
}

async function status() {
    const r = await fetch(statusUrl, { headers: { Accept: '*/*' } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const text = await r.text();
    return { text, json: JSON.parse(text) };
}

// exact USD text of integer picodollars: "12.000000345000"
function usdExact(pico) {
    const p = BigInt(pico), one = 1000000000000n, frac = String(p % one);
    return String(p / one) + '.' + '0'.repeat(12 - frac.length) + frac;
}

// histogram_quantile() as Prometheus computes it, written again here so
// that the page's own is checked against something else
function quantile(q, bounds, cumulative) {
    const count = cumulative[cumulative.length - 1];

    if (!(count > 0)) {
        return NaN;
    }

    const rank = q * count;
    let b = cumulative.findIndex((c) => c >= rank);

    if (b === -1 || b >= bounds.length) {
        return bounds[bounds.length - 1];
    }

    const lo = b === 0 ? 0 : bounds[b - 1];
    const below = b === 0 ? 0 : cumulative[b - 1];

    return lo + (bounds[b] - lo) * (rank - below) / (cumulative[b] - below);
}

function byName(list, key = 'name') {
    return Object.fromEntries(list.map((x) => [x[key], x]));
}

function checkCounters(what, c, bounds) {
    const failures = failureClasses.reduce((n, k) => n + c.failures[k], 0);

    assert.deepEqual(Object.keys(c.failures).sort(),
                     [...failureClasses].sort(), what);
    assert.equal(c.requests, c.successes + failures,
                 `${what}: requests = successes + failures`);
    assert.ok(c.failovers <= c.requests, `${what}: failovers`);

    for (const [h, b] of [['latency', bounds.latency],
                          ['ttft', bounds.ttft],
                          ['input_tokens', bounds.tokens],
                          ['output_tokens', bounds.tokens]]) {
        const hist = c[h];

        assert.equal(hist.buckets.length, b.length + 1, `${what}.${h}`);
        assert.equal(hist.buckets[b.length], hist.count, `${what}.${h}`);

        for (let i = 1; i < hist.buckets.length; i++) {
            assert.ok(hist.buckets[i] >= hist.buckets[i - 1],
                      `${what}.${h} is cumulative`);
        }
    }

    assert.equal(c.latency.count, c.successes,
                 `${what}: a latency for each success`);
    assert.ok(Math.abs(c.cost_usd * 1e12 - c.cost_picousd)
              <= 1e-3 * Math.max(1, c.cost_picousd), `${what}: cost`);
}

// ---- the traffic -------------------------------------------------------

const sent = [];
let teamPassed = 0, teamRejected = 0;

async function send(model, opts, expect = {}) {
    const a = await chat(model, opts);

    assert.equal(a.status, 200, `${model}: ${a.answer.slice(0, 300)}`);

    if (expect.provider) {
        assert.equal(a.provider, expect.provider);
    }

    if (expect.attempts) {
        assert.equal(a.attempts, expect.attempts);
    }

    sent.push({ model, opts, ...a });
    return a;
}

async function gatewayTraffic() {
    for (const m of models) {
        await send(m, {}, { provider: m, attempts: 1 });
        await send(m, { withTools: true }, { provider: m, attempts: 1 });
        await send(m, { stream: true }, { provider: m, attempts: 1 });
    }

    // Anthropic overloaded (529): the next provider of the list answers
    for (let i = 0; i < 2; i++) {
        await send('mock-anthropic', { text: 'simulate-overload-anthropic' },
                   { provider: 'mock-openai', attempts: 2 });
    }
}

async function abTraffic() {
    for (let i = 0; i < 8; i++) {
        await send('auto', { stream: i === 0 });
    }

    for (let i = 0; i < 6; i++) {
        await send('auto', { stream: i % 2 === 0,
                             headers: { 'X-LLM-Tier': 'low' } });
    }

    for (let i = 0; i < 3; i++) {
        await send('auto', { headers: { 'X-LLM-Tier': 'high' } },
                   { provider: 'mock-openai', attempts: 1 });
    }

    for (let i = 0; i < 2; i++) {
        await send('mock-anthropic', { text: 'simulate-overload-anthropic' },
                   { provider: 'mock-cohere', attempts: 2 });
    }

    // an embeddings request, on the "premium" route: OpenAI
    await send('auto', { embed: true, headers: { 'X-LLM-Tier': 'high' } },
               { provider: 'mock-openai', attempts: 1 });

    // the same request twice behind the response cache: a miss that OpenAI
    // answers, then a hit that no provider sees (not in sent)
    await send('auto', { path: '/cached/v1/', text: 'Cache me' },
               { provider: 'mock-openai', attempts: 1 });

    const hit = await chat('auto', { path: '/cached/v1/', text: 'Cache me' });

    assert.equal(hit.status, 200, hit.answer.slice(0, 300));
    assert.equal(hit.answer, sent[sent.length - 1].answer, 'a cache hit');

    // the limit zone "team" (three requests a day per team) on "premium":
    // the first three pass, the next two are refused
    for (let i = 0; i < 5; i++) {
        const opts = { headers: { 'X-LLM-Tier': 'high',
                                  'X-LLM-Team': 'dashboard' } };
        const a = await chat('auto', opts);

        if (a.status === 200) {
            assert.equal(a.provider, 'mock-openai');
            sent.push({ model: 'auto', opts, ...a });
            teamPassed++;
        } else {
            assert.equal(a.status, 429, a.answer.slice(0, 300));
            assert.match(a.answer, /requests_limit_exceeded/);
            teamRejected++;
        }
    }

    // [200, 200, 200, 429, 429], unless the day's window ended meanwhile
    assert.ok(teamRejected >= 1 && teamPassed >= 3,
              `team: ${teamPassed} passed, ${teamRejected} refused`);
}

// ---- the browser -------------------------------------------------------

let browser;

before(async () => {
    if (mix === 'ab') {
        await abTraffic();
    } else {
        await gatewayTraffic();
    }

    browser = await chromium.launch({
        executablePath,
        headless: true,
        args: ['--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
    });
});

after(async () => {
    await browser?.close();
});

// a page, with what it requested and what it logged as an error
async function open(url, viewport = { width: 1280, height: 900 }) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const seen = { requests: [], errors: [] };

    page.on('request', (r) => seen.requests.push(r.url()));
    page.on('console', (m) => {
        if (m.type() === 'error') {
            seen.errors.push(m.text());
        }
    });
    page.on('pageerror', (e) => seen.errors.push(e.message));

    const response = await page.goto(url);

    return { page, context, response, seen };
}

function checkClean(seen) {
    assert.ok(seen.requests.length > 0);

    for (const u of seen.requests) {
        assert.ok(u.startsWith(origin + '/') || u.startsWith('data:'),
                  `the page requested ${u}`);
    }

    assert.deepEqual(seen.errors, [], 'console errors');
}

async function waitPolls(page, n) {
    await page.waitForFunction((k) => Number(document.body.dataset.polls) >= k,
                               n, { timeout: 20000 });
}

// the table rows: data attributes and each cell's text and data-value
async function rows(page, table) {
    return page.$$eval(`#${table} tbody tr`, (trs) => trs.map((tr) => {
        const cells = {};

        for (const td of tr.querySelectorAll('td[data-field]')) {
            cells[td.dataset.field] = { text: td.textContent,
                                        value: td.dataset.value,
                                        title: td.title };
        }

        return { ...tr.dataset, cells };
    }));
}

function checkRow(what, row, c, bounds, costText) {
    const errors = c.requests - c.successes;

    for (const [field, v] of [['requests', c.requests],
                              ['successes', c.successes],
                              ['errors', errors],
                              ['failovers', c.failovers],
                              ['tokens_input', c.tokens.input],
                              ['tokens_output', c.tokens.output]]) {
        assert.equal(row.cells[field].text, String(v), `${what} ${field}`);
    }

    // the cost: exact in data-value, six significant digits shown
    assert.equal(row.cells.cost_usd.value, costText, `${what} cost`);
    const shown = Number(row.cells.cost_usd.text.replace(/^\$/, ''));

    if (c.cost_picousd === 0) {
        assert.equal(row.cells.cost_usd.text, '$0.00', `${what} cost`);
    } else {
        const digit = 10 ** (Math.floor(Math.log10(c.cost_usd)) - 5);
        assert.ok(Math.abs(shown - c.cost_usd) <= digit / 2 + 1e-15,
                  `${what} cost shown ${row.cells.cost_usd.text}`);
    }

    for (const [field, v] of [['error_rate', errors / c.requests],
                              ['failover_rate', c.failovers / c.requests]]) {
        if (c.requests) {
            assert.ok(Math.abs(Number(row.cells[field].value) - v) < 1e-12,
                      `${what} ${field}`);
        } else {
            assert.equal(row.cells[field].text, '\u2013');
        }
    }

    for (const [field, q, h, b] of [['p50_latency', 0.5, 'latency', 'latency'],
                                    ['p95_latency', 0.95, 'latency', 'latency'],
                                    ['p50_ttft', 0.5, 'ttft', 'ttft'],
                                    ['p95_ttft', 0.95, 'ttft', 'ttft']]) {
        const want = quantile(q, bounds[b], c[h].buckets);

        if (Number.isNaN(want)) {
            assert.equal(row.cells[field].text, '\u2013', `${what} ${field}`);
        } else {
            assert.ok(Math.abs(Number(row.cells[field].value) - want) < 1e-9,
                      `${what} ${field}: ${row.cells[field].value} ${want}`);
        }
    }

    // no traffic between the last two polls
    assert.equal(row.cells.rps.text, '0', `${what} rps`);
}

// ---- the tests ---------------------------------------------------------

test('the status JSON counts the requests sent', async () => {
    const { text, json } = await status();
    const p = byName(json.providers);

    assert.equal(json.module, 'ngx_http_llm_router_module');
    assert.equal(json.zone, 'llm');
    assert.ok(json.time >= json.since);
    assert.deepEqual(json.providers.map((x) => x.name), models);

    for (const x of json.providers) {
        checkCounters(x.name, x, json.buckets);
        assert.ok(['up', 'down', 'probing'].includes(x.state));
    }

    for (const a of json.routes) {
        checkCounters(`${a.route}/${a.arm}`, a, json.buckets);
    }

    // cost_usd is written exactly from cost_picousd
    const pairs = [...text.matchAll(
        /"cost_usd":([0-9.]+),"cost_picousd":([0-9]+)/g)];

    assert.equal(pairs.length, json.providers.length + json.routes.length);

    for (const m of pairs) {
        assert.equal(m[1], usdExact(m[2]));
    }

    if (mix === 'gateway') {
        const want = { 'mock-openai': 5, 'mock-mistral': 3,
                       'mock-anthropic': 5, 'mock-gemini': 3,
                       'mock-cohere': 3 };

        for (const m of models) {
            assert.equal(p[m].requests, want[m], `${m} requests`);
            assert.equal(p[m].ttft.count, 1, `${m}: one streamed answer`);
            assert.ok(p[m].tokens.input > 0 && p[m].tokens.output > 0);
            assert.ok(p[m].finish_reasons.tool_calls >= 1, `${m} tool call`);
        }

        assert.equal(p['mock-anthropic'].successes, 3);
        assert.equal(p['mock-anthropic'].failures.http_5xx, 2);
        assert.equal(p['mock-anthropic'].failovers, 2);
        assert.equal(p['mock-openai'].successes, 5);
        assert.equal(p['mock-openai'].failovers, 0);
        assert.deepEqual(json.routes, []);
        assert.deepEqual(json.limits, []);

        for (const x of json.providers) {
            assert.deepEqual([x.cache.hits, x.cache.misses, x.embeddings,
                              x.limited], [0, 0, 0, 0], x.name);
        }

    } else {
        const routes = {};

        for (const a of json.routes) {
            routes[a.route] = (routes[a.route] || 0) + a.requests;
            assert.equal(a.successes, a.requests, `${a.route}/${a.arm}`);
        }

        assert.deepEqual(routes, { budget: 6, premium: 4 + teamPassed,
                                   assistant: 10, cached: 1 });

        const arms = byName(json.routes.filter((a) => a.route === 'assistant'),
                            'arm');

        assert.equal(arms['mock-anthropic'].failovers, 2);

        // each answer's cost once per provider and once per arm
        const sum = (l) => l.reduce((n, x) => n + BigInt(x.cost_picousd), 0n);

        assert.ok(sum(json.providers) > 0n);
        assert.equal(sum(json.providers), sum(json.routes));

        const attempts = json.providers.reduce((n, x) => n + x.requests, 0);

        assert.equal(attempts, sent.length + 2, 'every attempt counted');
        assert.equal(p['mock-anthropic'].failures.http_5xx, 2);

        // the cache, the embeddings request and the limit zone
        assert.equal(p['mock-openai'].cache.hits, 1);
        assert.equal(p['mock-openai'].cache.misses, 1);
        assert.ok(p['mock-openai'].cache.tokens_saved.input > 0);
        assert.equal(p['mock-openai'].embeddings, 1);
        assert.deepEqual(json.limits, [{
            zone: 'team', kind: 'requests', checked: 5, passed: teamPassed,
            rejected: teamRejected, dry_run: 0, evicted: 0, unavailable: 0,
            store: 'shm',
        }]);
    }
});

test('the page is served for a browser', async () => {
    const html = await fetch(statusUrl + '?format=html');

    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type'), /^text\/html/);

    const page = await html.text();

    assert.match(page, /<table id="providers">/);

    const accept = await fetch(statusUrl, {
        headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });

    assert.match(accept.headers.get('content-type'), /^text\/html/);
    assert.equal(await accept.text(), page);

    // self-contained: no URL to load anything from
    assert.doesNotMatch(page, /<(script|link|img|iframe)[^>]+(src|href)="(?!data:)/i);
    assert.doesNotMatch(page.replaceAll('http://www.w3.org/2000/svg', ''),
                        /https?:\/\//, 'a URL other than the SVG namespace');

    const json = await fetch(statusUrl + '?format=json',
                             { headers: { Accept: 'text/html' } });

    assert.match(json.headers.get('content-type'), /^application\/json/);
});

test('each row of the page shows the numbers of the JSON', async () => {
    const { page, context, response, seen } =
        await open(statusUrl + '?format=html&refresh=0.5');

    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'], /^text\/html/);

    // two polls: the second gives requests/s
    await waitPolls(page, 2);

    const { text, json } = await status();
    const costs = [...text.matchAll(/"cost_usd":([0-9.]+)/g)].map((m) => m[1]);
    const provRows = await rows(page, 'providers');

    assert.deepEqual(provRows.map((r) => r.provider),
                     json.providers.map((p) => p.name));

    // each provider's card: the response cache, embeddings, the
    // provider's own limits
    const cards = await page.$$eval('#charts [data-chart]', (figs) =>
        figs.map((f) => Object.fromEntries(
            [...f.querySelectorAll('dd[data-field]')].map((dd) =>
                [dd.dataset.field, { text: dd.textContent,
                                     value: dd.dataset.value }]))));

    json.providers.forEach((p, i) => {
        const row = provRows[i], card = cards[i];

        checkRow(p.name, row, p, json.buckets, costs[i]);
        assert.equal(row.cells.state.text, p.state);

        for (const [field, v] of [['cache_hits', p.cache.hits],
                                  ['cache_misses', p.cache.misses],
                                  ['embeddings', p.embeddings],
                                  ['limited', p.limited]]) {
            assert.equal(card[field].text, String(v), `${p.name} ${field}`);
        }

        const asked = p.cache.hits + p.cache.misses;

        if (asked) {
            assert.ok(Math.abs(Number(card.cache_ratio.value)
                               - p.cache.hits / asked) < 1e-12,
                      `${p.name} cache_ratio`);
        } else {
            assert.equal(card.cache_ratio.text, '\u2013');
        }
    });

    // a row per limit zone, the section only when there is one
    const limitRows = await rows(page, 'limits');

    assert.equal(await page.isVisible('#limits'), json.limits.length > 0);
    assert.deepEqual(limitRows.map((r) => r.zone),
                     json.limits.map((z) => z.zone));

    json.limits.forEach((z, i) => {
        const row = limitRows[i];

        for (const f of ['zone', 'kind', 'store', 'checked', 'passed',
                         'rejected', 'dry_run', 'evicted', 'unavailable']) {
            assert.equal(row.cells[f].text, String(z[f]), `${z.zone} ${f}`);
        }
    });

    // failures highlighted: the refusals of "team" in red
    if (mix === 'ab') {
        assert.ok(json.limits[0].rejected > 0);
        assert.equal(await page.$eval(
            '#limits tr[data-zone="team"] td[data-field="rejected"]',
            (td) => td.classList.contains('bad')), true);
    }

    const routeRows = await rows(page, 'routes');

    assert.deepEqual(routeRows.map((r) => [r.route, r.arm]),
                     json.routes.map((a) => [a.route, a.arm]));

    json.routes.forEach((a, i) => {
        checkRow(`${a.route}/${a.arm}`, routeRows[i], a, json.buckets,
                 costs[json.providers.length + i]);
    });

    assert.equal(await page.isVisible('#routes-empty'),
                 json.routes.length === 0);

    // the header: totals of the providers
    const header = await page.evaluate(() => ({
        zone: document.getElementById('zone').textContent,
        version: document.getElementById('version').textContent,
        requests: document.getElementById('requests').textContent,
        rps: document.getElementById('rps').textContent,
        cost: document.getElementById('cost').dataset.value,
        charts: [...document.querySelectorAll('#charts [data-chart]')]
            .map((f) => f.dataset.chart),
    }));

    assert.equal(header.zone, json.zone);
    assert.equal(header.version, json.nginx_version);
    assert.equal(header.requests,
                 String(json.providers.reduce((n, p) => n + p.requests, 0)));
    assert.equal(header.rps, '0');
    assert.equal(header.cost, usdExact(json.providers.reduce(
        (n, p) => n + BigInt(p.cost_picousd), 0n)));
    assert.deepEqual(header.charts, json.providers.map((p) => p.name));

    // the JSON comes from the page's own location
    assert.ok(seen.requests.includes(statusUrl + '?format=json'));
    checkClean(seen);

    await context.close();
});

test('Accept: text/html on the status location gives the live page',
     async () => {
    const { page, context, response, seen } = await open(statusUrl);

    assert.match(response.headers()['content-type'], /^text\/html/);
    await waitPolls(page, 1);

    const { json } = await status();
    const provRows = await rows(page, 'providers');

    assert.deepEqual(provRows.map((r) => [r.provider, r.cells.requests.text]),
                     json.providers.map((p) => [p.name, String(p.requests)]));
    checkClean(seen);

    await context.close();
});

test('the page estimates quantiles as histogram_quantile()', async () => {
    const { page, context, seen } = await open(statusUrl + '?format=html');
    const bounds = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56];
    const cases = [
        // q, cumulative buckets (+Inf last), expected
        [0.5, [0, 0, 0, 0, 1, 3, 5, 7, 8, 8], 0.48],
        [0.95, [0, 0, 0, 0, 1, 3, 5, 7, 8, 8], 2.048],
        [0.5, [4, 4, 4, 4, 4, 4, 4, 4, 4, 4], 0.005],
        [0.95, [0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 2.56],
        [0.5, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], NaN],
    ];

    for (const [q, buckets, want] of cases) {
        const got = await page.evaluate(
            ([q, b, c]) => window.llmStatus.quantile(q, b, c),
            [q, bounds, buckets]);

        if (Number.isNaN(want)) {
            assert.ok(Number.isNaN(got));
        } else {
            assert.ok(Math.abs(got - want) < 1e-12, `${q} ${buckets}: ${got}`);
            assert.ok(Math.abs(quantile(q, bounds, buckets) - want) < 1e-12);
        }
    }

    const usd = await page.evaluate(() => [0, 0.0087, 12.345678, 123456.789,
                                           0.000006600001]
        .map((v) => window.llmStatus.usd(v)));

    assert.deepEqual(usd, ['$0.00', '$0.00870000', '$12.3457', '$123456.79',
                           '$0.00000660000']);
    checkClean(seen);

    await context.close();
});

// ---- the screenshot for the README ---------------------------------------

function pick(list) {
    return list[Math.floor(Math.random() * list.length)];
}

// the mix of the screenshot: the three routes, pinned models, streams,
// tool calls, a few rate-limited answers, and Anthropic overloaded for a
// while, and again at the end (out of rotation on the picture); and now
// and then a question of a few asked again behind the cache, an
// embeddings request, or a team's request (most refused by its limit)
async function variedRequest(t) {
    const r = Math.random();
    const opts = { stream: Math.random() < 0.3,
                   withTools: Math.random() < 0.15 };
    let model = 'auto';

    if (r > 0.92) {
        await chat('auto', { path: '/cached/v1/',
                             text: pick(['What is NGINX?', 'Hello',
                                         'Tell me a joke', 'Summarize',
                                         'Translate to French']) });
        return;
    }

    if (r > 0.89) {
        await chat('auto', { embed: true,
                             headers: { 'X-LLM-Tier':
                                        pick(['low', 'high']) } });
        return;
    }

    if (r > 0.86) {
        await chat('auto', { headers: { 'X-LLM-Team':
                                        pick(['search', 'support']) } });
        return;
    }

    if (r < 0.35) {
        opts.headers = { 'X-LLM-Tier': 'low' };
    } else if (r < 0.5) {
        opts.headers = { 'X-LLM-Tier': 'high' };
    } else if (r < 0.6) {
        model = pick(models);
    }

    if ((t > 10 && t < 20) || t > screenshotSeconds - 12) {
        if (Math.random() < 0.5) {
            opts.text = 'simulate-overload-anthropic';
        }
    } else if (Math.random() < 0.03) {
        opts.text = 'simulate-overload-' + pick(['gemini', 'cohere',
                                                 'mistral']);
    }

    // the mocks answer an overload prompt of another type unstreamed
    if (opts.text) {
        opts.stream = false;
    }

    await chat(model, opts);
}

test('screenshot', { skip: !screenshotPath }, async () => {
    const { page, context, seen } = await open(
        statusUrl + '?refresh=1', { width: 1280, height: 800 });
    const start = Date.now();
    const inflight = new Set();

    // a rate that rises and falls, a few requests at a time
    while (Date.now() - start < screenshotSeconds * 1000) {
        const t = (Date.now() - start) / 1000;
        const rate = 6 + 4 * Math.sin(t / 9) + 2 * Math.sin(t / 3.1);

        while (inflight.size >= 6) {
            await Promise.race(inflight);
        }

        const p = variedRequest(t).catch(() => {})
            .finally(() => inflight.delete(p));

        inflight.add(p);
        await new Promise((r) => setTimeout(r, 1000 / Math.max(rate, 0.5)));
    }

    await Promise.all(inflight);

    const polls = await page.evaluate(() => Number(document.body.dataset.polls));

    await waitPolls(page, polls + 1);
    mkdirSync(dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
    checkClean(seen);

    await context.close();
});
