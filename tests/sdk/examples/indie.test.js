// examples/indie.conf: low-stakes queries to the cheapest budget model,
// the rest to the premium one, a backup when either fails.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({
    baseURL: process.env.GATEWAY_URL || 'http://127.0.0.1:8080/v1',
    apiKey: 'client-key-not-forwarded',
    maxRetries: 0,
});

async function ask(content, headers) {
    const { data, response } = await client.chat.completions
        .create({ messages: [{ role: 'user', content }] }, { headers })
        .withResponse();
    return {
        text: data.choices[0].message.content,
        provider: response.headers.get('x-llm-provider'),
        attempts: response.headers.get('x-llm-attempts'),
    };
}

test('a low-stakes query goes to the cheapest model', async () => {
    const a = await ask('Summarise this.', { 'X-LLM-Tier': 'low' });
    assert.equal(a.provider, 'cheap');
    assert.equal(a.text, 'Hello from the mock Gemini provider.');
});

test('the cheap model rate-limited: the next cheapest answers', async () => {
    const a = await ask('Summarise this. simulate-overload-gemini',
                        { 'X-LLM-Tier': 'low' });
    assert.equal(a.attempts, '2');
    assert.equal(a.provider, 'cheaper-maybe');
    assert.equal(a.text, 'Hello from the mock Mistral provider.');
});

test('other queries go to the premium model', async () => {
    const a = await ask('Review this contract.');
    assert.equal(a.provider, 'premium');
    assert.equal(a.text, 'Hello from the mock Anthropic provider.');
});

test('the backup answers when the premium model is overloaded', async () => {
    const a = await ask('Review this contract. simulate-overload-anthropic');
    assert.equal(a.provider, 'backup');
    assert.equal(a.attempts, '2');
});
