// examples/cache.conf: the second identical question is answered from the
// cache, as a plain answer or as a stream; sampled questions are not
// cached; the provider counts the hits and what they saved.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const base = process.env.GATEWAY_URL || 'http://127.0.0.1:8080/v1';

const client = new OpenAI({
    baseURL: base,
    apiKey: 'client-key-not-forwarded',
    maxRetries: 0,
});

const question = [{ role: 'user', content: 'What is a cache?' }];

async function ask(params, headers) {
    const { data, response } = await client.chat.completions
        .create({ messages: question, ...params }, { headers })
        .withResponse();
    return {
        data,
        cache: response.headers.get('x-llm-cache'),
        provider: response.headers.get('x-llm-provider'),
    };
}

test('a miss, then the same answer from the cache', async () => {
    const first = await ask({ temperature: 0 });
    assert.equal(first.cache, 'MISS');
    assert.equal(first.provider, 'claude');
    assert.equal(first.data.choices[0].message.content,
                 'Hello from the mock Anthropic provider.');

    // the same question with "user", which does not count
    const second = await ask({ user: 'someone-else', temperature: 0 });
    assert.equal(second.cache, 'HIT');
    assert.equal(second.provider, null);
    assert.deepEqual(second.data, first.data);
});

test('a streamed request is answered from the cache as a stream', async () => {
    const { data: stream, response } = await client.chat.completions
        .create({
            messages: question,
            temperature: 0,
            stream: true,
            stream_options: { include_usage: true },
        })
        .withResponse();

    assert.equal(response.headers.get('x-llm-cache'), 'HIT');
    assert.equal(response.headers.get('content-type'), 'text/event-stream');

    let text = '';
    let finish = null;
    let usage = null;

    for await (const chunk of stream) {
        if (chunk.choices.length) {
            text += chunk.choices[0].delta.content || '';
            finish = chunk.choices[0].finish_reason || finish;
        }
        if (chunk.usage) {
            usage = chunk.usage;
        }
    }

    assert.equal(text, 'Hello from the mock Anthropic provider.');
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.prompt_tokens > 0 && usage.completion_tokens > 0);
});

test('a sampled request is not cached', async () => {
    const a = await ask({ temperature: 0.9 });
    assert.equal(a.cache, null);
    assert.equal(a.provider, 'claude');
});

test('Cache-Control: no-cache gets a fresh answer', async () => {
    const a = await ask({}, { 'Cache-Control': 'no-cache' });
    assert.equal(a.cache, 'BYPASS');
    assert.equal(a.provider, 'claude');
});

test('the provider counts the hits and what they saved', async () => {
    const res = await fetch(base.replace(/\/v1$/, '') + '/llm/status?format=json',
                            { headers: { Accept: 'application/json' } });
    const status = await res.json();
    const claude = status.providers.find((p) => p.name === 'claude');
    assert.equal(claude.cache.hits, 2);
    assert.ok(claude.cache.misses >= 1);
    assert.ok(claude.cache.tokens_saved.input > 0);
    assert.ok(claude.cache.cost_saved_picousd > 0);
});
