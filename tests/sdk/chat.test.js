// The official OpenAI SDK (npm "openai", pinned in package-lock.json) as a
// client of the gateway: every provider type must give answers the SDK
// parses, tool calls included.  The gateway and its mock providers are
// started by run.sh (examples/gateway.conf).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({
    baseURL: process.env.GATEWAY_URL || 'http://127.0.0.1:8080/v1',
    apiKey: 'client-key-not-forwarded',
    maxRetries: 0,
});

const providers = [
    { model: 'mock-openai', hello: 'Hello from the mock OpenAI provider.' },
    { model: 'mock-mistral', hello: 'Hello from the mock Mistral provider.' },
    { model: 'mock-anthropic',
      hello: 'Hello from the mock Anthropic provider.' },
    { model: 'mock-gemini', hello: 'Hello from the mock Gemini provider.' },
    { model: 'mock-cohere', hello: 'Hello from the mock Cohere provider.' },
];

const tools = [{
    type: 'function',
    function: {
        name: 'get_weather',
        description: 'Current weather in a city',
        parameters: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
        },
    },
}];

function checkCompletion(c) {
    assert.equal(typeof c.id, 'string');
    assert.ok(c.id.length > 0);
    assert.equal(c.object, 'chat.completion');
    assert.equal(typeof c.created, 'number');
    assert.equal(typeof c.model, 'string');
    assert.equal(c.choices.length, 1);
    assert.equal(c.choices[0].index, 0);
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.equal(typeof c.usage.prompt_tokens, 'number');
    assert.equal(typeof c.usage.completion_tokens, 'number');
    assert.equal(c.usage.total_tokens,
                 c.usage.prompt_tokens + c.usage.completion_tokens);
}

test('the model list names every provider', async () => {
    const ids = [];
    for await (const m of client.models.list()) {
        assert.equal(m.object, 'model');
        ids.push(m.id);
    }
    assert.deepEqual(ids, providers.map((p) => p.model));
});

for (const p of providers) {
    test(`${p.model}: a text answer`, async () => {
        const c = await client.chat.completions.create({
            model: p.model,
            messages: [
                { role: 'system', content: 'Be terse.' },
                { role: 'user', content: 'Hello' },
            ],
            max_tokens: 64,
        });
        checkCompletion(c);
        assert.equal(c.choices[0].message.content, p.hello);
        assert.equal(c.choices[0].finish_reason, 'stop');
    });

    test(`${p.model}: a tool call and its result`, async () => {
        const messages = [{ role: 'user', content: 'Weather in Oslo?' }];

        const c = await client.chat.completions.create({
            model: p.model, messages, tools, tool_choice: 'auto',
        });
        checkCompletion(c);

        const choice = c.choices[0];
        assert.equal(choice.finish_reason, 'tool_calls');
        assert.equal(choice.message.tool_calls.length, 1);

        const call = choice.message.tool_calls[0];
        assert.equal(call.type, 'function');
        assert.equal(typeof call.id, 'string');
        assert.ok(call.id.length > 0);
        assert.equal(call.function.name, 'get_weather');
        assert.deepEqual(JSON.parse(call.function.arguments),
                         { city: 'Oslo' });

        messages.push(choice.message);
        messages.push({ role: 'tool', tool_call_id: call.id,
                        content: '{"temperature_c":4}' });

        const f = await client.chat.completions.create({
            model: p.model, messages, tools,
        });
        checkCompletion(f);
        assert.equal(f.choices[0].message.content, 'It is 4 degrees in Oslo.');
        assert.equal(f.choices[0].finish_reason, 'stop');
    });
}

for (const p of providers) {
    test(`${p.model}: a streamed answer gives the same message`, async () => {
        const stream = await client.chat.completions.create({
            model: p.model,
            messages: [{ role: 'user', content: 'Hello' }],
            stream: true,
            stream_options: { include_usage: true },
        });

        let text = '';
        let finish = null;
        let usage = null;
        let chunks = 0;

        for await (const chunk of stream) {
            chunks++;
            assert.equal(chunk.object, 'chat.completion.chunk');

            if (chunk.usage) {
                usage = chunk.usage;
                assert.equal(chunk.choices.length, 0);
            }

            for (const c of chunk.choices) {
                text += c.delta.content || '';
                finish = c.finish_reason || finish;
            }
        }

        assert.ok(chunks >= 3);
        assert.equal(text, p.hello);
        assert.equal(finish, 'stop');
        assert.ok(usage.total_tokens > 0);
    });

    test(`${p.model}: a streamed tool call and its result`, async () => {
        const messages = [{ role: 'user', content: 'Weather in Oslo?' }];

        const runner = client.chat.completions.stream({
            model: p.model, messages, tools,
        });
        const c = await runner.finalChatCompletion();

        const choice = c.choices[0];
        assert.equal(choice.finish_reason, 'tool_calls');
        assert.equal(choice.message.tool_calls.length, 1);

        const call = choice.message.tool_calls[0];
        assert.ok(call.id.length > 0);
        assert.equal(call.function.name, 'get_weather');
        assert.deepEqual(JSON.parse(call.function.arguments),
                         { city: 'Oslo' });

        messages.push({ role: 'assistant', content: null,
                        tool_calls: choice.message.tool_calls });
        messages.push({ role: 'tool', tool_call_id: call.id,
                        content: '{"temperature_c":4}' });

        const f = await client.chat.completions.stream({
            model: p.model, messages, tools,
        }).finalChatCompletion();

        assert.equal(f.choices[0].message.content, 'It is 4 degrees in Oslo.');
        assert.equal(f.choices[0].finish_reason, 'stop');
    });
}

test('a gateway error is an OpenAI error the SDK understands', async () => {
    await assert.rejects(
        client.chat.completions.create({ model: 'mock-openai',
                                         messages: [] }),
        (err) => {
            assert.ok(err instanceof OpenAI.BadRequestError);
            assert.equal(err.status, 400);
            assert.equal(err.type, 'invalid_request_error');
            assert.equal(err.param, 'messages');
            return true;
        });
});

// Mistral takes neither a "developer" role nor tool-call ids other than
// 9 characters [A-Za-z0-9] (its mock refuses both, like the API does):
// the gateway sends "system" and ids of that form, the same in the call
// and in its result, and answers carry "logprobs" as OpenAI's do.
const openaiHistory = [
    { role: 'developer', content: 'Answer from the tool result.' },
    { role: 'user', content: 'Weather in Oslo?' },
    { role: 'assistant', content: null, refusal: null,
      tool_calls: [{ id: 'call_Qm9vT2xkWjVwWmRrZXk0', type: 'function',
                     function: { name: 'get_weather',
                                 arguments: '{"city":"Oslo"}' } }] },
    { role: 'tool', tool_call_id: 'call_Qm9vT2xkWjVwWmRrZXk0',
      content: '{"temperature_c":4}' },
];

test('mock-mistral: an OpenAI tool-call history and a developer message',
     async () => {
    const f = await client.chat.completions.create({
        model: 'mock-mistral', messages: openaiHistory, tools,
    });
    checkCompletion(f);
    assert.equal(f.choices[0].message.content, 'It is 4 degrees in Oslo.');
    assert.equal(f.choices[0].finish_reason, 'stop');
    assert.ok('logprobs' in f.choices[0]);
    assert.equal(f.choices[0].logprobs, null);
});

test('mock-mistral: the same history, streamed', async () => {
    const stream = await client.chat.completions.create({
        model: 'mock-mistral', messages: openaiHistory, tools, stream: true,
    });

    let text = '';
    let choices = 0;

    for await (const chunk of stream) {
        for (const c of chunk.choices) {
            choices++;
            assert.ok('logprobs' in c);
            text += c.delta.content || '';
        }
    }

    assert.ok(choices >= 2);
    assert.equal(text, 'It is 4 degrees in Oslo.');
});

test('mock-mistral: a Mistral tool-call id comes back and is kept',
     async () => {
    const messages = [{ role: 'developer', content: 'Use the tools.' },
                      { role: 'user', content: 'Weather in Oslo?' }];

    const c = await client.chat.completions.create({
        model: 'mock-mistral', messages, tools, tool_choice: 'required',
    });
    const call = c.choices[0].message.tool_calls[0];
    assert.equal(call.id, 'a1B2c3D4e');
    assert.equal(call.type, 'function');
    assert.equal(c.choices[0].logprobs, null);

    messages.push(c.choices[0].message);
    messages.push({ role: 'tool', tool_call_id: call.id,
                    content: '{"temperature_c":4}' });

    const f = await client.chat.completions.create({
        model: 'mock-mistral', messages, tools,
    });
    assert.equal(f.choices[0].message.content, 'It is 4 degrees in Oslo.');
});

test('mock-mistral: logprobs cannot be had: a 400 before the provider',
     async () => {
    await assert.rejects(
        client.chat.completions.create({
            model: 'mock-mistral',
            messages: [{ role: 'user', content: 'Hello' }],
            logprobs: true,
        }),
        (err) => {
            assert.ok(err instanceof OpenAI.BadRequestError);
            assert.equal(err.param, 'logprobs');
            assert.equal(err.code, 'unsupported_parameter');
            return true;
        });
});
