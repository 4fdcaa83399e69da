// Load for bench/reload.sh: CONCURRENCY clients send chat requests, each
// on a keep-alive connection (one http.Agent, like an SDK), for DURATION
// seconds, streamed or not (STREAM=1), and count what they saw:
//
//   sent          requests (retries not counted)
//   ok            a 200 with a whole answer (streams: ending in [DONE])
//   failed        no answer: the error code, split by whether the request
//                 went on a connection already used by a previous request
//                 (reused: the keep-alive close race) or a new one
//   status        answers other than 200
//   cut           a 200 whose body broke off (streams: no [DONE])
//   close         answers with "Connection: close"
//   retried       requests sent again after a connection error
//
// RETRY=N sends a request that got no answer (a connection error before
// any byte of an answer) again, up to N times, as the OpenAI SDKs do
// (max_retries 2); a failed request is one that failed every time.  The
// default is no retry.

import http from 'node:http';

const url = new URL(process.env.URL);
const duration = Number(process.env.DURATION || 10) * 1000;
const concurrency = Number(process.env.CONCURRENCY || 16);
const stream = process.env.STREAM === '1';
const retries = Number(process.env.RETRY || 0);

const body = JSON.stringify({
    model: 'gpt-4o-mini',
    stream,
    messages: [{ role: 'user', content: 'What is the capital of Norway?' }],
});

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

const r = { sent: 0, ok: 0, failed: 0, failed_reused: 0, failed_new: 0,
            errors: {}, status: {}, cut: 0, close: 0, retried: 0 };

function count(map, key) {
    map[key] = (map[key] || 0) + 1;
}

async function send() {
    r.sent++;

    for (let i = 0; ; i++) {
        const e = await once(i < retries);

        if (e === undefined) {
            return;
        }

        r.retried++;
    }
}

// resolves to an error code when the request is to be sent again
function once(retry) {
    return new Promise((resolve) => {
        const req = http.request(url, {
            method: 'POST',
            agent,
            headers: { 'Content-Type': 'application/json',
                       'Content-Length': Buffer.byteLength(body) },
        });

        let settled = false;

        // counts the request once, whatever events come after
        function settle(what, key) {
            if (settled) {
                return;
            }

            settled = true;

            if (what === 'failed' && retry) {
                resolve(key);
                return;
            }

            if (what === 'failed') {
                r.failed++;
                count(r.errors, key);

                if (req.reusedSocket) {
                    r.failed_reused++;
                } else {
                    r.failed_new++;
                }

            } else if (what === 'status') {
                count(r.status, key);

            } else {
                r[what]++;
            }

            resolve();
        }

        req.on('response', (res) => {
            const chunks = [];

            if (res.headers.connection === 'close') {
                r.close++;
            }

            res.on('data', (c) => chunks.push(c));

            res.on('end', () => {
                const text = Buffer.concat(chunks).toString();

                if (res.statusCode !== 200) {
                    settle('status', res.statusCode);

                } else if (!res.complete
                           || (stream ? !text.includes('data: [DONE]')
                                      : !text.includes('"choices"')))
                {
                    settle('cut');

                } else {
                    settle('ok');
                }
            });

            res.on('error', () => settle('cut'));
            res.on('close', () => settle('cut'));
        });

        req.on('error', (e) => settle('failed', e.code || e.message));

        req.end(body);
    });
}

const stop = Date.now() + duration;

async function client() {
    while (Date.now() < stop) {
        await send();
    }
}

await Promise.all(Array.from({ length: concurrency }, client));
agent.destroy();

console.log(JSON.stringify(r));
