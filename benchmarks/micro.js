'use strict'
// Micro-benchmarks of apm's hot paths, against the built agent (dist/): `npm run bench -- --micro` or
// `node benchmarks/micro.js [--write]`. Each case runs in batches of ~20 ms (100 ms for the batch encoding), garbage
// collection included as it comes; the table shows the median (and min) time per operation over the batches.
// Spans ended by the lifecycle cases go to a queue emptied every 512 spans, as the exporter's is by each batch;
// the real exporter's push is measured on its own. --write puts the table into benchmarks/README.md.
const { gzipSync } = require('node:zlib')
const { existsSync, readFileSync, writeFileSync } = require('node:fs')
const os = require('node:os')
const { join } = require('node:path')

const DIST = join(__dirname, '..', 'dist', 'lib')
if (!existsSync(join(DIST, 'recorder.js'))) {
  process.stderr.write('dist/ is missing: run `npm run build` first\n')
  process.exit(1)
}
const { resolveConfig } = require(join(DIST, 'config.js'))
const { Logger } = require(join(DIST, 'logger.js'))
const { Recorder } = require(join(DIST, 'recorder.js'))
const { Exporter } = require(join(DIST, 'export', 'exporter.js'))
const { Transport } = require(join(DIST, 'export', 'transport.js'))
const { DOCUMENT_TAIL, encodeSpan, encodeResource, tracesHead } = require(join(DIST, 'export', 'otlp.js'))
const { SpanBatch } = require(join(DIST, 'export', 'span-batch.js'))
const { newSpanId, newTraceId } = require(join(DIST, 'trace', 'ids.js'))
const { SpanKind } = require(join(DIST, 'trace', 'span.js'))
const { storage } = require(join(DIST, 'context.js'))

const log = new Logger()
log.setLevel('off')
const config = resolveConfig({ serviceName: 'micro', serverUrl: 'http://127.0.0.1:9' }, {}, log)
const RESOURCE = encodeResource({ 'service.name': 'micro', 'host.name': os.hostname(), 'process.pid': process.pid, 'telemetry.sdk.name': 'apm' })
const SCOPE = { name: 'apm', version: '0.0.0' }

// A recorder whose exporter never sends during the measurement (huge interval and batch), so pushes stay pushes.
// Its flush timer keeps it (and every span it queued) alive, so the previous ones are emptied before a new one
// is made: otherwise a run would hold millions of spans and measure the garbage collector.
const exporters = []
function recorder () {
  for (const e of exporters.splice(0)) e.drainSync()
  const transport = new Transport({ serverUrl: 'http://127.0.0.1:9', headers: {}, requestTimeoutMs: 1000, verifyServerCert: true, userAgent: 'micro' })
  const exporter = new Exporter({ maxQueueSize: 1e9, maxBatchSize: 512, flushIntervalMs: 1e9, requestTimeoutMs: 1000, maxBackoffMs: 1000, maxRequestBytes: 4 * 1024 * 1024 }, transport, log, RESOURCE, SCOPE)
  exporters.push(exporter)
  return { rec: new Recorder(config, exporter, log), exporter }
}

// For the span lifecycle: a queue that is emptied every 512 spans, as the exporter's is by each batch, so the
// spans live about as long as they do in an app and the numbers are the recorder's, not a huge heap's.
function batchedRecorder () {
  const queue = []
  const sink = { pushSpan (span) { if (queue.push(span) === 512) queue.length = 0 } }
  return { rec: new Recorder(config, sink, log) }
}

/** Time fn(n) (which performs n operations) in batches; returns ns/op statistics. setup() runs untimed per batch. */
function bench (name, fn, { setup, batchMs = 20, samples = 25, target } = {}) {
  // Calibrate the batch size.
  let n = 64
  for (;;) {
    const state = setup?.(n)
    const t0 = process.hrtime.bigint()
    fn(n, state)
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (ms >= batchMs / 4 || n >= 1 << 22) { n = Math.max(1, Math.round(n * batchMs / Math.max(ms, 0.001))); break }
    n *= 4
  }
  const per = []
  for (let i = 0; i < samples + 3; i++) {
    const state = setup?.(n)
    const t0 = process.hrtime.bigint()
    fn(n, state)
    const ns = Number(process.hrtime.bigint() - t0) / n
    if (i >= 3) per.push(ns)
  }
  per.sort((a, b) => a - b)
  return { name, median: per[per.length >> 1], min: per[0], n, target }
}

const results = []
const run = (r) => { results.push(r); process.stderr.write(`${r.name}: ${fmtNs(r.median)} (min ${fmtNs(r.min)})\n`) }
const fmtNs = (ns) => ns >= 1e6 ? (ns / 1e6).toFixed(2) + ' ms' : ns >= 1e3 ? (ns / 1e3).toFixed(2) + ' µs' : ns.toFixed(0) + ' ns'
let sinkhole = 0

// --- ids ---
run(bench('span id (8 random bytes → hex)', (n) => { for (let i = 0; i < n; i++) sinkhole += newSpanId().length }))
run(bench('trace id (16 random bytes → hex)', (n) => { for (let i = 0; i < n; i++) sinkhole += newTraceId().length }))

// --- context switch ---
{
  const { rec } = recorder()
  const tx = rec.startTransaction('GET /', 'request', { kind: SpanKind.SERVER })
  const fn = () => 1
  run(bench('context switch: withSpan(span, fn)', (n) => { for (let i = 0; i < n; i++) sinkhole += rec.withSpan(tx, fn) }))
  const args = [1]
  const applied = function (x) { return x }
  run(bench('context switch: applyWithSpan(span, fn, this, args)', (n) => { for (let i = 0; i < n; i++) sinkhole += rec.applyWithSpan(tx, applied, null, args) }))
}

// --- span lifecycle ---
run(bench('child span start + end under a transaction (into the queue)', (n, { rec, tx }) => {
  storage.run(tx, () => {
    for (let i = 0; i < n; i++) {
      const span = rec.startSpan('SELECT users', 'db', { kind: SpanKind.CLIENT })
      span.end()
    }
  })
}, {
  setup: () => {
    const { rec } = batchedRecorder()
    rec.limits.maxSpansPerTransaction = 1e9
    return { rec, tx: rec.startTransaction('GET /', 'request', { kind: SpanKind.SERVER }) }
  },
  target: 1000
}))
run(bench('child span start + 4 attributes + end', (n, { rec, tx }) => {
  storage.run(tx, () => {
    for (let i = 0; i < n; i++) {
      const span = rec.startSpan('SELECT users', 'db', { kind: SpanKind.CLIENT })
      span.setAttribute('db.system.name', 'postgresql')
      span.setAttribute('db.query.text', 'SELECT * FROM users WHERE id = $1')
      span.setAttribute('server.address', '127.0.0.1')
      span.setAttribute('server.port', 5432)
      span.end()
    }
  })
}, {
  setup: () => {
    const { rec } = batchedRecorder()
    rec.limits.maxSpansPerTransaction = 1e9
    return { rec, tx: rec.startTransaction('GET /', 'request', { kind: SpanKind.SERVER }) }
  }
}))
run(bench('transaction end (into the queue)', (n, txs) => {
  for (let i = 0; i < n; i++) txs[i].end()
}, {
  setup: (n) => {
    const { rec } = recorder()
    const txs = new Array(n)
    for (let i = 0; i < n; i++) txs[i] = rec.startTransaction('GET /', 'request', { kind: SpanKind.SERVER })
    return txs
  },
  target: 2000
}))
run(bench('transaction start + 9 http attributes + end', (n, rec) => {
  for (let i = 0; i < n; i++) {
    const tx = rec.startTransaction('GET /', 'request', { kind: SpanKind.SERVER, traceparent: undefined, tracestate: undefined })
    tx.setAttribute('http.request.method', 'GET')
    tx.setAttribute('url.path', '/')
    tx.setAttribute('url.scheme', 'http')
    tx.setAttribute('server.address', '127.0.0.1')
    tx.setAttribute('server.port', 3000)
    tx.setAttribute('network.protocol.version', '1.1')
    tx.setAttribute('user_agent.original', undefined)
    tx.setAttribute('client.address', '127.0.0.1')
    tx.setAttribute('http.response.status_code', 200)
    tx.result = 'HTTP 2xx'
    tx.end()
  }
}, { setup: () => batchedRecorder().rec }))

// --- the http server instrumentation around one request (no I/O: real IncomingMessage/ServerResponse objects,
// 'request' emitted on a patched Server, 'close' emitted on the response) ---
{
  const http = require('node:http')
  const net = require('node:net')
  const httpInst = require(join(DIST, '..', 'instrumentations', 'http.js')).default
  const server = new http.Server(() => {})
  const socket = new net.Socket()
  function request () {
    const req = new http.IncomingMessage(socket)
    req.method = 'GET'
    req.url = '/users/42?x=1'
    req.httpVersion = '1.1'
    req.headers = { host: '127.0.0.1:3000', 'user-agent': 'wrk' }
    return req
  }
  const baseline = bench('http request objects + emit, no agent (subtracted below)', (n) => {
    for (let i = 0; i < n; i++) {
      const req = request()
      const res = new http.ServerResponse(req)
      server.emit('request', req, res)
      res.emit('close')
    }
  }, { batchMs: 2 })
  const { rec, exporter: httpExporter } = recorder()
  httpInst.targets[0].patch(http, { tracer: rec, version: '', basedir: '' })
  const traced = bench('http request objects + emit, traced', (n) => {
    for (let i = 0; i < n; i++) {
      const req = request()
      const res = new http.ServerResponse(req)
      server.emit('request', req, res)
      res.emit('close')
    }
  }, { setup: () => { httpExporter.drainSync() }, batchMs: 2 })
  run({ name: 'http server transaction: instrumentation + recorder + queue (added per request)', median: traced.median - baseline.median, min: traced.min - baseline.min, target: undefined })
  httpInst.targets[0].unpatch(http)
}

// --- queue push: the exporter encodes the span into its open batch ---
run(bench('queue push (exporter.pushSpan: encode into the batch)', (n, { exporter, span }) => {
  for (let i = 0; i < n; i++) exporter.pushSpan(span)
}, {
  setup: () => {
    const { rec, exporter } = recorder()
    const span = rec.startTransaction('GET /', 'request', { kind: SpanKind.SERVER })
    return { exporter, span }
  }
}))

// --- encoding ---
function batchOf512 () {
  const { rec } = recorder()
  const spans = []
  while (spans.length < 512) {
    const tx = rec.startTransaction('GET /users/:id', 'request', { kind: SpanKind.SERVER })
    tx.setAttribute('http.request.method', 'GET')
    tx.setAttribute('url.path', '/users/42')
    tx.setAttribute('url.scheme', 'http')
    tx.setAttribute('server.address', 'localhost')
    tx.setAttribute('server.port', 3000)
    tx.setAttribute('network.protocol.version', '1.1')
    tx.setAttribute('user_agent.original', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36')
    tx.setAttribute('client.address', '127.0.0.1')
    tx.setAttribute('http.route', '/users/:id')
    storage.run(tx, () => {
      const span = rec.startSpan('SELECT users', 'db', { kind: SpanKind.CLIENT })
      span.setAttribute('db.system.name', 'postgresql')
      span.setAttribute('db.query.text', 'SELECT * FROM users WHERE id = $1')
      span.setAttribute('db.operation.name', 'SELECT')
      span.setAttribute('server.address', '127.0.0.1')
      span.setAttribute('server.port', 5432)
      span.end()
      spans.push(span)
    })
    tx.setAttribute('http.response.status_code', 200)
    tx.result = 'HTTP 2xx'
    tx.end()
    spans.push(tx)
  }
  return spans
}
{
  const spans = batchOf512()
  let json = ''
  // As the exporter does it: each span encoded into the batch's buffer (reused), the document closed, then gzip.
  const head = Buffer.from(tracesHead(RESOURCE, SCOPE))
  const tail = Buffer.from(DOCUMENT_TAIL)
  let buffer = Buffer.allocUnsafeSlow(64 * 1024)
  const encodeBatch = () => {
    const batch = new SpanBatch(head, tail, buffer)
    for (let j = 0; j < spans.length; j++) batch.append(encodeSpan(spans[j]), 4 * 1024 * 1024)
    buffer = batch.buffer
    return batch.finish()
  }
  run(bench('OTLP JSON encode of a 512-span batch', (n) => {
    for (let i = 0; i < n; i++) json = encodeBatch()
  }, { batchMs: 100, samples: 15 }))
  json = Buffer.from(json)
  run(bench('gzip (level 2, memLevel 9) of that batch', (n) => { for (let i = 0; i < n; i++) sinkhole += gzipSync(json, { level: 2, memLevel: 9 }).length }, { batchMs: 100, samples: 15 }))
  run(bench('OTLP JSON encode + gzip of a 512-span batch', (n) => {
    for (let i = 0; i < n; i++) sinkhole += gzipSync(encodeBatch(), { level: 2, memLevel: 9 }).length
  }, { batchMs: 100, samples: 15, target: 5e6 }))
  const gz = gzipSync(json, { level: 2, memLevel: 9 }).length
  process.stderr.write(`512-span batch: ${json.length} bytes of JSON, ${gz} gzipped (${(gz / 512).toFixed(0)} bytes/span)\n`)
}

function markdown () {
  const lines = [
    `Node ${process.version}, ${os.cpus()[0]?.model ?? ''} (${os.cpus().length} cores), load average ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}.`,
    '',
    '| operation | median | min | target |',
    '|---|---|---|---|'
  ]
  for (const r of results) {
    const verdict = r.target === undefined ? '' : `≤ ${fmtNs(r.target)}: ${r.median <= r.target ? 'met' : 'missed'}`
    lines.push(`| ${r.name} | ${fmtNs(r.median)} | ${fmtNs(r.min)} | ${verdict} |`)
  }
  return lines.join('\n')
}

const md = markdown()
process.stdout.write(md + '\n')
if (process.argv.includes('--write')) {
  const file = join(__dirname, 'README.md')
  const start = '<!-- micro:start -->'
  const end = '<!-- micro:end -->'
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n'
  if (!text.includes(start)) text += `\n${start}\n${end}\n`
  text = text.slice(0, text.indexOf(start) + start.length) + '\n' + md + '\n' + text.slice(text.indexOf(end))
  writeFileSync(file, text)
}
if (sinkhole === -1) process.stdout.write('')
