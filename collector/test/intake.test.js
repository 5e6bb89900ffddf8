// @ts-check
'use strict'

const t = require('tap')
const fs = require('node:fs')
const net = require('node:net')
const zlib = require('node:zlib')
const { collector, tempDir } = require('./helpers/collector.js')
const { spawnCollector, stop } = require('./helpers/process.js')
const o = require('./helpers/otlp.js')

/**
 * Sends raw bytes over TCP and resolves with everything the server answered until it closed.
 * @param {number} port @param {string | Buffer} data @param {{ endAfterMs?: number }} [opts]
 */
function rawRequest (port, data, opts = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const socket = net.connect(port, '127.0.0.1', () => socket.write(data))
    let out = ''
    socket.on('data', (d) => { out += d })
    socket.on('error', (err) => { if (out) resolve({ text: out, ms: Date.now() - started }); else reject(err) })
    socket.on('close', () => resolve({ text: out, ms: Date.now() - started }))
    if (opts.endAfterMs) setTimeout(() => socket.destroy(), opts.endAfterMs)
  })
}

t.test('a valid gzip batch of spans and an error log is acknowledged and stored', async (t) => {
  const c = await collector(t)
  const spans = o.transaction({ children: [{ name: 'SELECT users', offsetMs: 1, durationMs: 5 }] })
  const r = await o.post(c.url, '/v1/traces', o.traces(spans), { gzip: true })
  t.equal(r.status, 200)
  t.same(r.body, {})
  const l = await o.post(c.url, '/v1/logs', o.logs([o.errorRecord({ traceId: spans[0].traceId })]), { gzip: true })
  t.equal(l.status, 200)
  await c.drained()
  t.match(c.status().stored, { spans: 2, transactions: 1, errors: 1 })
})

t.test('a batch mixing valid and invalid spans stores the valid ones and reports partial success naming the first bad field', async (t) => {
  const c = await collector(t)
  const good = o.transaction()
  const bad1 = o.transaction()
  bad1[0].spanId = 'abc'
  const bad2 = o.transaction()
  bad2[0].kind = /** @type {any} */ ('SPAN_KIND_SERVER')
  const r = await o.post(c.url, '/v1/traces', o.traces([...good, ...bad1, ...bad2]))
  t.equal(r.status, 200)
  t.same(r.body, { partialSuccess: { rejectedSpans: '2', errorMessage: 'resourceSpans[0].scopeSpans[0].spans[1].spanId: expected 16 hex characters' } })
  await c.drained()
  t.equal(c.status().stored.spans, 1)
})

t.test('log records are validated one by one with rejectedLogRecords', async (t) => {
  const c = await collector(t)
  const bad = o.errorRecord()
  bad.severityNumber = /** @type {any} */ ('ERROR')
  const r = await o.post(c.url, '/v1/logs', o.logs([o.errorRecord(), bad]))
  t.equal(r.status, 200)
  t.same(r.body, { partialSuccess: { rejectedLogRecords: '1', errorMessage: 'resourceLogs[0].scopeLogs[0].logRecords[1].severityNumber: expected an integer enum value' } })
})

t.test('metrics are accepted, validated and counted', async (t) => {
  const c = await collector(t)
  const body = {
    resourceMetrics: [{
      resource: o.resource(),
      scopeMetrics: [{ scope: { name: 'apm' }, metrics: [{ name: 'process.cpu.utilization', gauge: { dataPoints: [{ timeUnixNano: o.ns(Date.now()), asDouble: 0.5 }, { timeUnixNano: o.ns(Date.now()), asDouble: 0.4 }] } }] }]
    }]
  }
  t.equal((await o.post(c.url, '/v1/metrics', body)).status, 200)
  const bad = await o.post(c.url, '/v1/metrics', { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'x' }] }] }] })
  t.equal(bad.status, 400)
  t.match(bad.body.error, /resourceMetrics\[0\]\.scopeMetrics\[0\]\.metrics\[0\]: expected one of gauge/)
  await c.drained()
  t.equal(c.status().stored.metricPoints, 2)
})

t.test('bad input gets a 4xx naming the problem, never a 500', async (t) => {
  const c = await collector(t)
  const tx = () => o.transaction()
  const withSpan = (/** @type {(s: any) => void} */ f) => { const s = tx(); f(s[0]); return o.traces(s) }
  /** @type {[string, any, { raw?: string | Buffer, headers?: Record<string, string> } | undefined, number, RegExp][]} */
  const corpus = [
    ['malformed JSON', null, { raw: '{"resourceSpans": [' }, 400, /invalid JSON/],
    ['a JSON array at the top', null, { raw: '[]' }, 400, /\(root\): expected a JSON object/],
    ['a JSON string at the top', null, { raw: '"hello"' }, 400, /expected a JSON object/],
    ['resourceSpans not an array', { resourceSpans: {} }, undefined, 400, /resourceSpans: expected an array/],
    ['a span that is a number', o.traces([1]), undefined, 400, /spans\[0\]: expected a span object/],
    ['a short trace id', withSpan((s) => { s.traceId = 'abcd' }), undefined, 400, /spans\[0\]\.traceId: expected 32 hex characters/],
    ['a non-hex span id', withSpan((s) => { s.spanId = 'zzzzzzzzzzzzzzzz' }), undefined, 400, /spans\[0\]\.spanId: expected 16 hex/],
    ['an all-zero trace id', withSpan((s) => { s.traceId = '0'.repeat(32) }), undefined, 400, /traceId: must not be all zeros/],
    ['a base64 trace id (protobuf JSON style)', withSpan((s) => { s.traceId = Buffer.from(s.traceId, 'hex').toString('base64') }), undefined, 400, /traceId: expected 32 hex/],
    ['a kind given as an enum string', withSpan((s) => { s.kind = 'SPAN_KIND_SERVER' }), undefined, 400, /spans\[0\]\.kind: expected an integer enum value/],
    ['a kind out of range', withSpan((s) => { s.kind = 9 }), undefined, 400, /kind: expected an integer from 0 to 5/],
    ['a status code as a string', withSpan((s) => { s.status = { code: 'STATUS_CODE_ERROR' } }), undefined, 400, /status\.code: expected an integer enum value/],
    ['a start time that is not an integer', withSpan((s) => { s.startTimeUnixNano = '12.5' }), undefined, 400, /startTimeUnixNano: expected an unsigned integer/],
    ['a negative time', withSpan((s) => { s.startTimeUnixNano = -1 }), undefined, 400, /startTimeUnixNano: expected an unsigned integer/],
    ['an end before the start', withSpan((s) => { s.endTimeUnixNano = '1' }), undefined, 400, /endTimeUnixNano: is before startTimeUnixNano/],
    ['a missing name', withSpan((s) => { delete s.name }), undefined, 400, /spans\[0\]\.name: expected a string/],
    ['an attribute without a key', withSpan((s) => { s.attributes = [{ value: { stringValue: 'x' } }] }), undefined, 400, /attributes\[0\]\.key: expected a non-empty string/],
    ['an intValue that is not an integer', withSpan((s) => { s.attributes = [{ key: 'n', value: { intValue: '1.5' } }] }), undefined, 400, /attributes\[0\]\.value\.intValue: expected an int64/],
    ['an intValue beyond int64', withSpan((s) => { s.attributes = [{ key: 'n', value: { intValue: '9223372036854775808' } }] }), undefined, 400, /intValue: out of range for int64/],
    ['a stringValue that is a number', withSpan((s) => { s.attributes = [{ key: 'n', value: { stringValue: 5 } }] }), undefined, 400, /value\.stringValue: expected a string/],
    ['a value with two types', withSpan((s) => { s.attributes = [{ key: 'n', value: { stringValue: 'a', boolValue: true } }] }), undefined, 400, /has both stringValue and boolValue/],
    ['attribute values nested too deeply', withSpan((s) => {
      let v = { stringValue: 'x' }
      for (let i = 0; i < 12; i++) v = /** @type {any} */ ({ arrayValue: { values: [v] } })
      s.attributes = [{ key: 'deep', value: v }]
    }), undefined, 400, /nested deeper than 8 levels/],
    ['JSON nested thousands of levels deep', null, { raw: '{"resourceSpans":' + '['.repeat(100000) + ']'.repeat(100000) + '}' }, 400, /JSON nested deeper than 64 levels/],
    ['invalid UTF-8', null, { raw: Buffer.concat([Buffer.from('{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}]}}]}')]) }, 400, /not valid UTF-8/],
    ['a gzip header on a plain body', o.traces(tx()), { headers: { 'Content-Encoding': 'gzip' } }, 400, /invalid gzip body/],
    ['an unknown content encoding', o.traces(tx()), { headers: { 'Content-Encoding': 'br' } }, 415, /unsupported Content-Encoding br/],
    ['protobuf', o.traces(tx()), { headers: { 'Content-Type': 'application/x-protobuf' } }, 415, /OTLP\/protobuf is not supported/],
    ['text/plain', o.traces(tx()), { headers: { 'Content-Type': 'text/plain' } }, 415, /expected Content-Type: application\/json/]
  ]
  for (const [what, body, opts, status, message] of corpus) {
    const r = await o.post(c.url, '/v1/traces', body, opts)
    t.equal(r.status, status, `${what}: status`)
    t.match(r.body?.error, message, `${what}: message`)
  }
  const get = await o.request(c.url + '/v1/traces', { method: 'GET' })
  t.equal(get.status, 405)
  t.equal(get.headers.allow, 'POST')
  t.equal(c.stats.internalErrors, 0, 'no 500s')
  await c.drained()
  t.equal(c.status().stored.spans, 0, 'nothing invalid was stored')
  // still healthy
  t.equal((await o.post(c.url, '/v1/traces', o.traces(tx()))).status, 200)
})

t.test('unknown fields are ignored; int64 as numbers and upper-case hex ids are accepted', async (t) => {
  const c = await collector(t)
  const s = o.transaction()
  const id = s[0].traceId
  Object.assign(s[0], { traceId: id.toUpperCase(), startTimeUnixNano: Number(s[0].startTimeUnixNano), endTimeUnixNano: Number(s[0].endTimeUnixNano), droppedAttributesCount: 3, somethingNew: { x: 1 } })
  s[0].attributes.push({ key: 'big', value: /** @type {any} */ ({ intValue: 42 }) })
  const r = await o.post(c.url, '/v1/traces', { ...o.traces(s), extra: true })
  t.equal(r.status, 200)
  t.same(r.body, {})
  await c.drained()
  t.equal(c.queries.trace(id).spans.length, 1)
})

t.test('an empty request is a successful no-op', async (t) => {
  const c = await collector(t)
  t.same((await o.post(c.url, '/v1/traces', {})).body, {})
  t.same((await o.post(c.url, '/v1/logs', { resourceLogs: [] })).body, {})
})

t.test('with a token, a request without the right bearer is refused with 401 before its body is read', async (t) => {
  const c = await collector(t, { token: 's3cret' })
  t.equal((await o.post(c.url, '/v1/traces', o.traces(o.transaction()))).status, 401)
  const wrong = await o.post(c.url, '/v1/traces', o.traces(o.transaction()), { token: 's3cre' })
  t.equal(wrong.status, 401)
  t.equal(wrong.headers['www-authenticate'], 'Bearer')
  t.equal((await o.post(c.url, '/v1/traces', o.traces(o.transaction()), { token: 's3cret' })).status, 200)
  // Declares 10 MB but sends none of it: the 401 must come without waiting for the body.
  const r = /** @type {any} */ (await rawRequest(c.port, 'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer nope\r\nContent-Length: 10000000\r\n\r\n', { endAfterMs: 5000 }))
  t.match(r.text, /^HTTP\/1\.1 401 /)
  t.ok(r.ms < 2000, `answered in ${r.ms} ms`)
  // With Expect: 100-continue the client is never invited to send the body.
  const expect = /** @type {any} */ (await rawRequest(c.port, 'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer nope\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n', { endAfterMs: 5000 }))
  t.match(expect.text, /^HTTP\/1\.1 401 /)
  t.notMatch(expect.text, /100 Continue/)
  const ok = /** @type {any} */ (await rawRequest(c.port, 'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer s3cret\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n', { endAfterMs: 1000 }))
  t.match(ok.text, /^HTTP\/1\.1 100 Continue/, 'an authenticated client is invited to send')
  t.equal(c.stats.unauthorized, 4)
})

t.test('a body over 16 MiB is refused with 413, whether declared up front or streamed in chunks', async (t) => {
  const c = await collector(t)
  const r = /** @type {any} */ (await rawRequest(c.port, 'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16777217\r\n\r\n{', { endAfterMs: 5000 }))
  t.match(r.text, /^HTTP\/1\.1 413 /)
  const big = Buffer.alloc(17 * 1024 * 1024, 0x20)
  const chunked = await o.request(c.url + '/v1/traces', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, big).catch((err) => ({ status: 0, err }))
  // The server may close before the client finishes sending; either way it must not be accepted.
  if (chunked.status) t.equal(chunked.status, 413)
  else t.pass('connection closed while sending an oversized body')
  t.equal((await o.post(c.url, '/v1/traces', o.traces(o.transaction()))).status, 200, 'still serving')
})

t.test('a gzip bomb is cut off at 16 MiB of output with 413 and without growing memory', async (t) => {
  // A separate collector process, so its peak memory (VmHWM) is its own.
  const dataDir = tempDir()
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }))
  const c = await spawnCollector(['--port', '0', '--data', dataDir])
  t.teardown(() => stop(c.child, 'SIGKILL'))
  const peakMiB = () => {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${c.child.pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : 0
  }
  // 1 GiB of spaces compresses to about 1 MiB.
  const gz = zlib.createGzip({ level: 9 })
  const parts = /** @type {Buffer[]} */ ([])
  gz.on('data', (d) => parts.push(d))
  const done = new Promise((resolve) => gz.on('end', resolve))
  const zeros = Buffer.alloc(1024 * 1024, 0x20)
  for (let i = 0; i < 1024; i++) gz.write(zeros)
  gz.end()
  await done
  const bomb = Buffer.concat(parts)
  t.ok(bomb.length < 4 * 1024 * 1024, `bomb is ${bomb.length} bytes compressed`)
  // warm up: one ordinary request, so the baseline includes a served request
  t.equal((await o.post(c.url, '/v1/traces', o.traces(o.transaction()), { gzip: true })).status, 200)
  const before = peakMiB()
  const r = await o.post(c.url, '/v1/traces', null, { raw: bomb, headers: { 'Content-Encoding': 'gzip' } })
  t.equal(r.status, 413)
  t.match(r.body.error, /exceeds 16777216 bytes/)
  const grown = peakMiB() - before
  t.ok(grown < 64, `peak memory grew ${grown.toFixed(1)} MiB (a full inflate would be 1024 MiB)`)
  t.equal((await o.post(c.url, '/v1/traces', o.traces(o.transaction()))).status, 200, 'still serving')
})

t.test('a lying Content-Length does not hang or confuse the intake', async (t) => {
  const c = await collector(t, { bodyTimeoutMs: 800 })
  const body = JSON.stringify(o.traces(o.transaction()))
  // Claims more than it sends: the body timeout answers 408.
  const short = /** @type {any} */ (await rawRequest(c.port, `POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 100}\r\n\r\n${body}`, { endAfterMs: 5000 }))
  t.match(short.text, /^HTTP\/1\.1 408 /)
  t.ok(short.ms < 4000)
  // Claims less than it sends: the body is cut at the declared length and the rest parses as a bad request.
  const long = /** @type {any} */ (await rawRequest(c.port, `POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n${body}`, { endAfterMs: 5000 }))
  t.match(long.text, /^HTTP\/1\.1 400 /)
  await c.drained()
  t.equal(c.status().stored.spans, 0, 'nothing stored from the truncated body')
  t.equal(c.stats.internalErrors, 0)
})

t.test('a client that is slow to send its headers is disconnected', async (t) => {
  const c = await collector(t, { headersTimeoutMs: 500 })
  const r = /** @type {any} */ (await rawRequest(c.port, 'POST /v1/traces HTTP/1.1\r\nHost: x\r\n', { endAfterMs: 8000 }))
  t.ok(r.ms < 4000, `closed after ${r.ms} ms`)
  t.match(r.text, /^(HTTP\/1\.1 408 |)/)
})

t.test('too many requests for one token get 429 with a Retry-After', async (t) => {
  const c = await collector(t, { token: 'tok', rateLimitPerSecond: 1, rateLimitBurst: 3 })
  const statuses = []
  let retryAfter
  for (let i = 0; i < 5; i++) {
    const r = await o.post(c.url, '/v1/traces', o.traces(o.transaction()), { token: 'tok' })
    statuses.push(r.status)
    if (r.status === 429) retryAfter = r.headers['retry-after']
  }
  t.same(statuses.slice(0, 3), [200, 200, 200])
  t.ok(statuses.slice(3).every((s) => s === 429), `then 429: ${statuses}`)
  t.match(retryAfter, /^[1-9]\d*$/)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await o.post(c.url, '/v1/traces', o.traces(o.transaction()), { token: 'tok' })).status, 200, 'allowed again after waiting')
})

t.test('one service cannot use up the rate limit of another', async (t) => {
  const c = await collector(t, { rateLimitPerSecond: 0.5, rateLimitBurst: 2 })
  // Requests from one address share the per-address bucket too, so use different tokens-less... addresses are
  // all 127.0.0.1 here; the per-service bucket is what limits a noisy service.
  const a = []
  for (let i = 0; i < 2; i++) a.push((await o.post(c.url, '/v1/traces', o.traces(o.transaction(), { service: 'noisy' }), { token: `t${i}` })).status)
  const b = await o.post(c.url, '/v1/traces', o.traces(o.transaction(), { service: 'noisy' }), { token: 't9' })
  const quiet = await o.post(c.url, '/v1/traces', o.traces(o.transaction(), { service: 'quiet' }), { token: 't8' })
  t.same(a, [200, 200])
  t.equal(b.status, 429)
  t.match(b.body.error, /service noisy/)
  t.equal(quiet.status, 200)
})
