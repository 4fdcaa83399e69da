// examples/knowledge-assistant.conf: quick lookups to Mistral-7B, long
// questions to Claude, GPT-4o when Claude is unavailable.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({
    baseURL: process.env.GATEWAY_URL || 'http://127.0.0.1:8080/v1',
    apiKey: 'client-key-not-forwarded',
    maxRetries: 0,
});

const long = 'Explain, with the relevant clauses, how our retention policy '
    + 'applies to archived tickets. '.repeat(20);

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

test('a lookup marked by the client goes to Mistral-7B', async () => {
    const a = await ask(long, { 'X-LLM-Task': 'lookup' });
    assert.equal(a.provider, 'mistral7b');
    assert.equal(a.text, 'Hello from the mock Mistral provider.');
});

test('a short question goes to Mistral-7B', async () => {
    const a = await ask('Opening hours of the Oslo office?');
    assert.equal(a.provider, 'mistral7b');
    assert.equal(a.attempts, '1');
});

test('a long question goes to Claude', async () => {
    const a = await ask(long);
    assert.equal(a.provider, 'claude');
    assert.equal(a.text, 'Hello from the mock Anthropic provider.');
});

test('GPT-4o answers when Claude is overloaded', async () => {
    const a = await ask(long + ' simulate-overload-anthropic');
    assert.equal(a.provider, 'gpt4o');
    assert.equal(a.attempts, '2');
    assert.equal(a.text, 'Hello from the mock OpenAI provider.');
});
