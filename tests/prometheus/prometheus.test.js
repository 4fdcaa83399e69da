// The gateway's metrics in a real Prometheus: run.sh starts the gateway
// (tests/gateway-ab.conf, mock providers) and a Prometheus that scrapes
// /llm/status?format=prometheus every second with the rules of
// examples/prometheus/alerts.yml.  This file sends requests, checks the
// exposition text (promtool check metrics, strictly, and what promtool
// does not check), then that Prometheus holds the same numbers as the
// gateway's JSON, that the rules are loaded and evaluated, and that the
// failover and error-rate alerts see the overloaded provider.
//
//   GATEWAY_URL  default http://127.0.0.1:8080
//   PROM_URL     default http://127.0.0.1:19090
//   PROMTOOL     default promtool
//
// Waits are bounded (WAIT_SECONDS, default 60) and nothing is timed.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const gateway = process.env.GATEWAY_URL || 'http://127.0.0.1:8080';
const prom = process.env.PROM_URL || 'http://127.0.0.1:19090';
const promtool = process.env.PROMTOOL || 'promtool';
const waitSeconds = Number(process.env.WAIT_SECONDS || 60);

const outcomes = ['success', 'connect', 'timeout', 'http_429', 'http_5xx',
                  'http_4xx', 'invalid', 'client_abort'];
const tokenKinds = ['input', 'output', 'cached', 'cache_write', 'reasoning'];

const families = {
    llm_router_requests_total: 'counter',
    llm_router_failovers_total: 'counter',
    llm_router_embeddings_total: 'counter',
    llm_router_finish_reasons_total: 'counter',
    llm_router_tokens_total: 'counter',
    llm_router_usage_unknown_total: 'counter',
    llm_router_cost_usd_total: 'counter',
    llm_router_cache_hits_total: 'counter',
    llm_router_cache_misses_total: 'counter',
    llm_router_cache_tokens_saved_total: 'counter',
    llm_router_cache_cost_saved_usd_total: 'counter',
    llm_router_provider_up: 'gauge',
    llm_router_circuit_state: 'gauge',
    gen_ai_client_operation_duration_seconds: 'histogram',
    gen_ai_server_time_to_first_token_seconds: 'histogram',
    gen_ai_client_token_usage: 'histogram',
    llm_router_route_requests_total: 'counter',
    llm_router_route_failovers_total: 'counter',
    llm_router_route_tokens_total: 'counter',
    llm_router_route_cost_usd_total: 'counter',
    llm_router_route_duration_seconds: 'histogram',
    llm_router_route_ttft_seconds: 'histogram',
    llm_router_provider_limited_total: 'counter',
    llm_router_limit_requests_total: 'counter',
    llm_router_limit_evictions_total: 'counter',
};

const otelNames = { openai: 'openai', mistral: 'mistral_ai',
                    anthropic: 'anthropic', gemini: 'gcp.gemini',
                    cohere: 'cohere' };

const alerts = ['LLMSpendRateHigh', 'LLMProviderDown', 'LLMAllProvidersDown',
                'LLMProviderFailoverRateHigh', 'LLMProviderErrorRateHigh',
                'LLMTimeToFirstTokenSlow'];
const records = ['llm_router:spend_budget_usd_per_day',
                 'llm_router:spend_usd_per_day:rate1h'];

function same(a, b) {
    try {
        assert.deepEqual(a, b);
        return true;
    } catch {
        return false;
    }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// calls f until it returns something true, WAIT_SECONDS at most
async function until(what, f) {
    const end = Date.now() + waitSeconds * 1000;
    let last;

    for (;;) {
        try {
            last = await f();
            if (last) {
                return last;
            }
        } catch (e) {
            last = e;
        }

        if (Date.now() > end) {
            assert.fail(`gave up waiting for ${what}: ${last?.message ?? ''}`);
        }

        await sleep(250);
    }
}

async function query(q) {
    const r = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = await r.json();

    assert.equal(body.status, 'success', `${q}: ${JSON.stringify(body)}`);
    return body.data.result;
}

async function gatewayJson() {
    const r = await fetch(gateway + '/llm/status?format=json');
    assert.equal(r.status, 200);
    return r.json();
}

async function chat(model, { stream = false, text = 'Hello',
                             headers = {} } = {}) {
    const r = await fetch(gateway + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ model, stream,
                               messages: [{ role: 'user', content: text }] }),
    });
    const answer = await r.text();

    assert.equal(r.status, 200, answer.slice(0, 300));
    return r.headers.get('x-llm-provider');
}

// ---- the exposition text, parsed -----------------------------------------

function parseLabels(s) {
    const labels = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
    let m, pos = 0;

    while (pos < s.length && (m = re.exec(s))) {
        assert.ok(!(m[1] in labels), `label ${m[1]} once in {${s}}`);
        labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        pos = re.lastIndex;
    }

    assert.equal(pos, s.length, `labels {${s}}`);
    return labels;
}

function parseExposition(text) {
    const help = {}, type = {}, samples = [];

    for (const line of text.split('\n')) {
        let m;

        if (line === '') {
            continue;
        }

        if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line))) {
            assert.ok(!help[m[1]], `HELP ${m[1]} once`);
            help[m[1]] = m[2];
        } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
            assert.ok(!type[m[1]], `TYPE ${m[1]} once`);
            type[m[1]] = m[2];
        } else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line))) {
            samples.push({ name: m[1], labels: parseLabels(m[2]),
                           key: `${m[1]}{${m[2]}}`, value: m[3] });
        } else {
            assert.fail(`unexpected line: ${line}`);
        }
    }

    return { help, type, samples };
}

function familyOf(name, type) {
    for (const suffix of ['_bucket', '_sum', '_count']) {
        const base = name.slice(0, -suffix.length);

        if (name.endsWith(suffix) && type[base] === 'histogram') {
            return base;
        }
    }

    return name;
}

function labelKey(labels, without = []) {
    return JSON.stringify(Object.keys(labels).filter((k) => !without.includes(k))
        .sort().map((k) => [k, labels[k]]));
}

// ---- the tests -----------------------------------------------------------

let json;

before(async () => {
    // a first scrape before the requests: the rates see them
    await until('the first scrape', async () => {
        const up = await query('up{job="llm-gateway"}');
        return up.length === 1 && up[0].value[1] === '1';
    });

    // Anthropic overloaded first (fresh connections), then the routes:
    // the A/B of "assistant", "budget" (X-LLM-Tier: low), "premium"
    for (let i = 0; i < 4; i++) {
        assert.equal(await chat('mock-anthropic',
                                { text: 'simulate-overload-anthropic' }),
                     'mock-cohere');
    }

    for (let i = 0; i < 6; i++) {
        await chat('auto', { stream: i === 0 });
    }

    for (let i = 0; i < 4; i++) {
        await chat('auto', { stream: i < 2, headers: { 'X-LLM-Tier': 'low' } });
    }

    for (let i = 0; i < 3; i++) {
        assert.equal(await chat('auto', { stream: i === 0,
                                          headers: { 'X-LLM-Tier': 'high' } }),
                     'mock-openai');
    }

    json = await gatewayJson();
});

test('the exposition passes promtool check metrics, strictly', async () => {
    const r = await fetch(gateway + '/llm/status?format=prometheus');

    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'),
                 'text/plain; version=0.0.4; charset=utf-8');

    const text = await r.text();
    const check = spawnSync(promtool, ['check', 'metrics'], { input: text,
                                                              encoding: 'utf8' });

    assert.equal(check.error, undefined);
    // any line promtool prints is a problem (it prints nothing otherwise)
    assert.equal(check.stdout + check.stderr, '', 'promtool check metrics');
    assert.equal(check.status, 0);

    // what promtool does not check
    const { help, type, samples } = parseExposition(text);
    const seen = new Set();

    assert.deepEqual(Object.keys(type).sort(), Object.keys(families).sort());
    assert.deepEqual(Object.keys(help).sort(), Object.keys(families).sort());

    for (const [name, t] of Object.entries(families)) {
        assert.equal(type[name], t, name);
    }

    for (const s of samples) {
        const family = familyOf(s.name, type);

        assert.ok(type[family], `${s.name}: a family with # TYPE`);
        assert.ok(!seen.has(s.key), `${s.key} once`);
        seen.add(s.key);
        assert.ok(Number.isFinite(Number(s.value)) && Number(s.value) >= 0,
                  `${s.key} ${s.value}`);
    }

    // histograms: cumulative buckets, +Inf = _count, per series
    const hist = {};

    for (const s of samples) {
        const family = familyOf(s.name, type);

        if (type[family] !== 'histogram') {
            continue;
        }

        const k = family + labelKey(s.labels, ['le']);
        const h = hist[k] || (hist[k] = { buckets: [] });

        if (s.name.endsWith('_bucket')) {
            h.buckets.push([s.labels.le, Number(s.value)]);
        } else if (s.name.endsWith('_count')) {
            h.count = Number(s.value);
        } else {
            h.sum = Number(s.value);
        }
    }

    assert.ok(Object.keys(hist).length > 0);

    for (const [k, h] of Object.entries(hist)) {
        const les = h.buckets.map((b) => b[0]);

        assert.equal(les[les.length - 1], '+Inf', k);
        assert.deepEqual(les.slice(0, -1).map(Number),
                         les.slice(0, -1).map(Number).sort((a, b) => a - b), k);

        for (let i = 1; i < h.buckets.length; i++) {
            assert.ok(h.buckets[i][1] >= h.buckets[i - 1][1], `${k} cumulative`);
        }

        assert.equal(h.buckets[h.buckets.length - 1][1], h.count, k);
        assert.ok(h.sum >= 0, k);
    }

    // the OpenTelemetry attributes of the provider histograms
    for (const s of samples.filter((x) => x.name.startsWith('gen_ai_'))) {
        const p = json.providers.find((x) => x.name === s.labels.provider);

        assert.ok(p, s.key);
        assert.equal(s.labels.type, p.type);
        assert.equal(s.labels.gen_ai_operation_name, 'chat');
        assert.equal(s.labels.gen_ai_provider_name, otelNames[p.type]);
        assert.equal(s.labels.gen_ai_request_model, p.model);

        if (s.name.startsWith('gen_ai_client_token_usage')) {
            assert.ok(['input', 'output'].includes(s.labels.gen_ai_token_type));
        }
    }

    // every outcome of every provider and arm, zeros included
    for (const p of json.providers) {
        for (const o of outcomes) {
            assert.ok(seen.has(`llm_router_requests_total{provider="${p.name}",`
                               + `type="${p.type}",outcome="${o}"}`),
                      `${p.name} ${o}`);
        }
    }
});

// what Prometheus holds, in the shape of what the JSON says
async function fromPrometheus() {
    const got = { providers: {}, routes: {} };
    const n = (s) => Number(s.value[1]);
    const p = (name) => got.providers[name] || (got.providers[name] = {
        failures: {}, tokens: {} });
    const a = (m) => {
        const k = `${m.route}/${m.arm}`;
        return got.routes[k] || (got.routes[k] = { failures: {}, tokens: {} });
    };

    for (const s of await query('llm_router_requests_total')) {
        if (s.metric.outcome === 'success') {
            p(s.metric.provider).successes = n(s);
        } else {
            p(s.metric.provider).failures[s.metric.outcome] = n(s);
        }
    }

    for (const s of await query('sum by (provider) (llm_router_requests_total)')) {
        p(s.metric.provider).requests = n(s);
    }

    for (const s of await query('llm_router_failovers_total')) {
        p(s.metric.provider).failovers = n(s);
    }

    for (const s of await query('llm_router_cost_usd_total')) {
        p(s.metric.provider).cost_usd = n(s);
    }

    for (const s of await query('llm_router_tokens_total')) {
        p(s.metric.provider).tokens[s.metric.kind] = n(s);
    }

    for (const s of await query('gen_ai_client_operation_duration_seconds_count')) {
        p(s.metric.provider).latency_count = n(s);
    }

    for (const s of await query('gen_ai_server_time_to_first_token_seconds_count')) {
        p(s.metric.provider).ttft_count = n(s);
    }

    for (const s of await query('llm_router_provider_up')) {
        p(s.metric.provider).up = n(s);
    }

    for (const s of await query('llm_router_route_requests_total')) {
        if (s.metric.outcome === 'success') {
            a(s.metric).successes = n(s);
        } else {
            a(s.metric).failures[s.metric.outcome] = n(s);
        }
    }

    for (const s of await query('sum by (route, arm) (llm_router_route_requests_total)')) {
        a(s.metric).requests = n(s);
    }

    for (const s of await query('llm_router_route_failovers_total')) {
        a(s.metric).failovers = n(s);
    }

    for (const s of await query('llm_router_route_cost_usd_total')) {
        a(s.metric).cost_usd = n(s);
    }

    for (const s of await query('llm_router_route_tokens_total')) {
        a(s.metric).tokens[s.metric.kind] = n(s);
    }

    for (const s of await query('llm_router_route_duration_seconds_count')) {
        a(s.metric).latency_count = n(s);
    }

    return got;
}

function fromJson(j) {
    const want = { providers: {}, routes: {} };
    const counters = (c) => ({
        requests: c.requests,
        successes: c.successes,
        failures: { ...c.failures },
        failovers: c.failovers,
        cost_usd: c.cost_usd,
        tokens: Object.fromEntries(tokenKinds.map((k) => [k, c.tokens[k]])),
        latency_count: c.latency.count,
    });

    for (const p of j.providers) {
        want.providers[p.name] = { ...counters(p), ttft_count: p.ttft.count,
                                   up: p.state === 'up' ? 1 : 0 };
    }

    for (const a of j.routes) {
        want.routes[`${a.route}/${a.arm}`] = counters(a);
    }

    return want;
}

test('Prometheus holds the numbers of the JSON', async () => {
    let got;
    const want = fromJson(json);

    assert.ok(json.providers.some((p) => p.cost_picousd > 0), 'costs');
    assert.ok(json.routes.length > 0, 'route arms');

    // the scrapes after the last request
    await until('a scrape with the last numbers', async () => {
        got = await fromPrometheus();
        return same(got, want);
    }).catch(() => {});

    assert.deepEqual(got, want);

    // and the JSON has not moved meanwhile
    assert.deepEqual(fromJson(await gatewayJson()), want);
});

test('the rules are loaded and evaluated', async () => {
    const rules = await until('every rule evaluated', async () => {
        const r = await (await fetch(`${prom}/api/v1/rules`)).json();
        const all = r.data.groups.flatMap((g) => g.rules);

        return all.length > 0 && all.every((x) => x.health === 'ok') && r;
    });

    const groups = rules.data.groups;

    assert.deepEqual(groups.map((g) => g.name).sort(),
                     ['llm-router-providers', 'llm-router-spend']);

    const all = groups.flatMap((g) => g.rules);

    assert.deepEqual(all.filter((x) => x.type === 'alerting')
                        .map((x) => x.name).sort(), [...alerts].sort());
    assert.deepEqual(all.filter((x) => x.type === 'recording')
                        .map((x) => x.name).sort(), [...records].sort());

    for (const x of all) {
        assert.equal(x.lastError ?? '', '', x.name);
    }

    const budget = await query('llm_router:spend_budget_usd_per_day');

    assert.equal(budget.length, 1);

    const spend = await until('the spend rate', async () => {
        const s = await query('llm_router:spend_usd_per_day:rate1h');
        return s.length === 1 && Number(s[0].value[1]) > 0 && s;
    });

    assert.ok(Number(spend[0].value[1]) > 0);
});

test('the failover and error-rate alerts see the overloaded provider',
     async () => {
    const found = await until('the alerts on mock-anthropic', async () => {
        const r = await (await fetch(`${prom}/api/v1/alerts`)).json();
        const on = r.data.alerts.filter((x) =>
            x.labels.provider === 'mock-anthropic'
            && ['pending', 'firing'].includes(x.state));
        const names = on.map((x) => x.labels.alertname).sort();

        return names.includes('LLMProviderFailoverRateHigh')
               && names.includes('LLMProviderErrorRateHigh') && r;
    });

    // the others answered every request they were sent
    for (const x of found.data.alerts) {
        if (x.labels.alertname !== 'LLMSpendRateHigh') {
            assert.equal(x.labels.provider, 'mock-anthropic',
                         JSON.stringify(x.labels));
        }
    }
});
