// examples/retrieval.conf: the OpenAI SDK's embeddings.create() against
// every provider type that has embeddings (OpenAI, Mistral, Cohere,
// Gemini), as floats and as base64; failover only to a provider of the
// same model; chat in the same location goes to Claude.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const base = process.env.GATEWAY_URL || 'http://127.0.0.1:8080/v1';

const client = new OpenAI({
    baseURL: base,
    apiKey: 'client-key-not-forwarded',
    maxRetries: 0,
});

// what the mocks answer, exact in float32
const A = [0.5, -0.25, 0.125, 1.0];
const B = [-1.0, 0.75, 0.0, 2.0];

// the input tokens each provider reports for two inputs; Gemini reports none
const providers = [
    { name: 'embed-openai', model: 'text-embedding-3-small', tokens: 6 },
    { name: 'embed-mistral', model: 'mistral-embed', tokens: 8 },
    { name: 'embed-cohere', model: 'embed-v4.0', tokens: 10 },
    { name: 'embed-gemini', model: 'gemini-embedding-001', tokens: null },
];

function floats(b64) {
    const bytes = Buffer.from(b64, 'base64');
    assert.equal(bytes.length % 4, 0);
    const out = [];
    for (let i = 0; i < bytes.length; i += 4) {
        out.push(bytes.readFloatLE(i));
    }
    return out;
}

async function embed(params) {
    const { data, response } = await client.embeddings
        .create(params)
        .withResponse();
    return { data, provider: response.headers.get('x-llm-provider') };
}

function checkList(data, p, vectors) {
    assert.equal(data.object, 'list');
    assert.equal(data.data.length, vectors.length);
    data.data.forEach((d, i) => {
        assert.equal(d.object, 'embedding');
        assert.equal(d.index, i);
    });
    if (p.tokens === null) {
        assert.equal(data.usage, undefined);
    } else {
        assert.equal(data.usage.prompt_tokens, p.tokens);
        assert.equal(data.usage.total_tokens, p.tokens);
    }
}

for (const p of providers) {
    test(`${p.name}: floats`, async () => {
        const { data, provider } = await embed({
            model: p.name,
            input: ['alpha', 'beta'],
            encoding_format: 'float',
        });
        assert.equal(provider, p.name);
        checkList(data, p, [A, B]);
        assert.deepEqual(data.data.map((d) => d.embedding), [A, B]);
        assert.equal(data.model, p.model);
    });

    test(`${p.name}: base64, as the SDK asks by default`, async () => {
        // the SDK asks for base64 and decodes it into floats
        const { data } = await embed({ model: p.name,
                                       input: ['alpha', 'beta'] });
        checkList(data, p, [A, B]);
        assert.deepEqual(data.data.map((d) => Array.from(d.embedding)),
                         [A, B]);
    });

    test(`${p.name}: base64 asked for explicitly`, async () => {
        const { data } = await embed({
            model: p.name,
            input: 'alpha',
            encoding_format: 'base64',
        });
        assert.equal(data.data.length, 1);
        assert.equal(typeof data.data[0].embedding, 'string');
        assert.deepEqual(floats(data.data[0].embedding), A);
    });
}

test('a failing OpenAI endpoint fails over to the same model elsewhere',
     async () => {
    const { data, provider } = await embed({
        model: 'text-embedding-3-small',
        input: 'simulate-overload-openai',
        encoding_format: 'float',
    });
    assert.equal(provider, 'embed-openai-2');
    assert.deepEqual(data.data[0].embedding, A);
});

test('a failing Cohere is not replaced by another model', async () => {
    await assert.rejects(
        client.embeddings.create({
            model: 'embed-cohere',
            input: 'simulate-overload-cohere',
        }),
        (err) => {
            assert.equal(err.status, 429);
            return true;
        });
});

test('token input goes to OpenAI; Cohere takes text only', async () => {
    const { data } = await embed({
        model: 'text-embedding-3-small',
        input: [[1, 2, 3]],
        encoding_format: 'float',
    });
    assert.equal(data.data.length, 1);

    await assert.rejects(
        client.embeddings.create({ model: 'embed-cohere', input: [[1, 2]] }),
        (err) => {
            assert.equal(err.status, 400);
            assert.equal(err.param, 'input');
            return true;
        });
});

test('chat in the same location goes to Claude', async () => {
    const { data, response } = await client.chat.completions
        .create({
            model: 'any',
            messages: [{ role: 'user', content: 'Hi' }],
        })
        .withResponse();
    assert.equal(response.headers.get('x-llm-provider'), 'claude');
    assert.equal(data.choices[0].message.content,
                 'Hello from the mock Anthropic provider.');
});

test('the models list says what each provider serves', async () => {
    const ids = {};
    for await (const m of client.models.list()) {
        ids[m.id] = m.endpoints;
    }
    assert.deepEqual(ids['embed-cohere'], ['embeddings']);
    assert.deepEqual(ids['claude'], ['chat.completions']);
});

test('the providers count their embeddings and their cost', async () => {
    const res = await fetch(base.replace(/\/v1$/, '') + '/llm/status',
                            { headers: { Accept: 'application/json' } });
    const status = await res.json();
    const get = (name) => status.providers.find((p) => p.name === name);
    assert.ok(get('embed-cohere').embeddings >= 3);
    assert.ok(get('embed-cohere').tokens.input >= 10);
    assert.ok(get('embed-cohere').cost_picousd > 0);
    assert.ok(get('embed-gemini').embeddings >= 3);
    assert.ok(get('embed-gemini').usage_unknown >= 3);
    assert.equal(get('claude').embeddings, 0);
});
