// Load for bench/failover.sh: sends TOTAL chat requests, CONCURRENCY at a
// time, to the gateway; kills the primary provider after KILL_AT
// requests and restarts it after RESTART_AT; prints what the clients saw.

import { execSync } from 'node:child_process';

const url = process.env.GATEWAY_URL || 'http://127.0.0.1:8090/v1/chat/completions';
const total = Number(process.env.TOTAL || 10000);
const concurrency = Number(process.env.CONCURRENCY || 16);
const killAt = Number(process.env.KILL_AT || 2000);
const restartAt = Number(process.env.RESTART_AT || 6000);

const body = JSON.stringify({
    messages: [{ role: 'user', content: 'What is the capital of Norway?' }],
});

let sent = 0;
let done = 0;
const statuses = {};
const providers = {};
const phases = { before: {}, down: {}, after: {} };
let phase = 'before';

function count(map, key) {
    map[key] = (map[key] || 0) + 1;
}

async function worker() {
    for (;;) {
        if (sent >= total) {
            return;
        }

        sent++;

        if (sent === killAt) {
            execSync(process.env.KILL_CMD);
            phase = 'down';
        }

        if (sent === restartAt) {
            execSync(process.env.RESTART_CMD);
            phase = 'after';
        }

        let status;
        let provider = '-';

        try {
            const res = await fetch(url, {
                method: 'POST',
                headers: { 'Content-Type': 'application/json' },
                body,
            });
            await res.arrayBuffer();
            status = res.status;
            provider = res.headers.get('x-llm-provider') || '-';
        } catch (e) {
            status = 'network-error';
        }

        count(statuses, status);
        count(providers, provider);
        count(phases[phase], provider);
        done++;
    }
}

const start = Date.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (Date.now() - start) / 1000;

const errors = done - (statuses[200] || 0);

console.log(JSON.stringify({ requests: done, seconds, errors, statuses,
                             providers, phases }));
