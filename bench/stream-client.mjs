// Load for bench/stream.sh: opens STREAMS concurrent streamed chat
// requests against URL and reports the time to the first byte and the
// completion of each stream (milliseconds, percentiles).

const url = process.env.URL;
const streams = Number(process.env.STREAMS || 100);
const body = process.env.BODY;
const headers = JSON.parse(process.env.HEADERS || '{}');

function pct(a, p) {
    const s = [...a].sort((x, y) => x - y);
    return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))];
}

async function one() {
    const t0 = performance.now();
    const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body,
    });
    const reader = res.body.getReader();
    let first = null;
    let bytes = 0;
    let text = '';
    for (;;) {
        const { done, value } = await reader.read();
        if (done) {
            break;
        }
        if (first === null) {
            first = performance.now() - t0;
        }
        bytes += value.length;
        if (text.length < 64) {
            text += Buffer.from(value).toString();
        }
    }
    return { status: res.status, ttft: first, total: performance.now() - t0,
             bytes, ok: res.status === 200 };
}

const results = await Promise.all(Array.from({ length: streams }, one));
const ttft = results.map((r) => r.ttft);
const total = results.map((r) => r.total);

console.log(JSON.stringify({
    streams,
    failed: results.filter((r) => !r.ok).length,
    ttft_p50: +pct(ttft, 50).toFixed(2),
    ttft_p99: +pct(ttft, 99).toFixed(2),
    total_p50: +pct(total, 50).toFixed(1),
    bytes_per_stream: results[0].bytes,
}));
