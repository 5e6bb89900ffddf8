'use strict'
// A local intake for every agent under test: OTLP/HTTP JSON (apm, OpenTelemetry), Elastic APM intake v2
// (elastic-apm-node) and the Datadog agent API (dd-trace). It answers at once and keeps the raw bodies;
// they are decoded after the load stops (so decoding never competes with the load generator) into
// transactions (entry spans) and spans per run, which lets the table flag an agent that drops data.
const http = require('node:http')
const zlib = require('node:zlib')
const { decode: msgpack } = require('./msgpack')

function emptyCounts () {
  return { posts: 0, bytes: 0, transactions: 0, spans: 0, errors: 0, other: 0, undecoded: 0, pending: [] }
}

function inflate (body, encoding) {
  if (encoding === 'gzip') return zlib.gunzipSync(body)
  if (encoding === 'deflate') return zlib.inflateSync(body)
  if (encoding === 'br') return zlib.brotliDecompressSync(body)
  return body
}

// OTLP JSON: an entry span is SERVER/CONSUMER or has no (local) parent.
function countOtlp (c, text) {
  const doc = JSON.parse(text)
  for (const rs of doc.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        if (s.kind === 2 || s.kind === 5 || s.kind === 'SPAN_KIND_SERVER' || !s.parentSpanId) c.transactions++
        else c.spans++
      }
    }
  }
}

// Elastic intake v2: ndjson, one event per line keyed by its type.
function countElastic (c, text) {
  for (const line of text.split('\n')) {
    if (line === '') continue
    const key = line.slice(2, line.indexOf('"', 2))
    if (key === 'transaction') c.transactions++
    else if (key === 'span') c.spans++
    else if (key === 'error') c.errors++
  }
}

// Datadog v0.4: [[span, …] per trace]; v0.5: [strings, [[[12 fields], …], …]]. Root spans (parent 0) are transactions.
function countDatadog (c, buf, v05) {
  const doc = msgpack(buf)
  const traces = v05 ? doc[1] : doc
  for (const trace of traces) {
    for (const span of trace) {
      const parent = v05 ? span[6] : span.parent_id
      // eslint-disable-next-line eqeqeq
      if (parent == 0) c.transactions++
      else c.spans++
    }
  }
}

function decodePending (c) {
  for (const p of c.pending) {
    try {
      const raw = inflate(p.body, p.encoding)
      if (p.kind === 'otlp') {
        if (p.type.includes('protobuf')) c.undecoded++
        else countOtlp(c, raw.toString('utf8'))
      } else if (p.kind === 'elastic') {
        countElastic(c, raw.toString('utf8'))
      } else if (p.kind === 'dd4' || p.kind === 'dd5') {
        countDatadog(c, raw, p.kind === 'dd5')
      }
    } catch (err) {
      c.undecoded++
      if (c.undecoded <= 3) process.stderr.write(`sink: could not decode a ${p.kind} body: ${err.message}\n`)
    }
  }
  c.pending = []
}

const ELASTIC_INFO = JSON.stringify({ build_date: '2024-01-01T00:00:00Z', build_sha: 'bench', publish_ready: true, version: '8.15.0' })

function startSink () {
  let counts = emptyCounts()
  let lastArrival = 0
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (d) => chunks.push(d))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const path = req.url.split('?')[0]
      const c = counts
      let kind = null
      let reply = ''
      const type = 'application/json'
      let status = 200
      if (path.endsWith('/v1/traces')) {
        kind = 'otlp'
        reply = '{}'
      } else if (path.endsWith('/v1/logs') || path.endsWith('/v1/metrics')) {
        c.other++
        reply = '{}'
      } else if (path === '/intake/v2/events') {
        kind = 'elastic'
        status = 202
      } else if (path === '/') {
        reply = ELASTIC_INFO // elastic-apm-node asks for the server version
      } else if (path === '/v0.4/traces' || path === '/v0.5/traces') {
        kind = path === '/v0.4/traces' ? 'dd4' : 'dd5'
        reply = '{"rate_by_service":{}}'
      } else {
        // Datadog /info, remote config, telemetry, Elastic central config …: not offered.
        status = 404
        reply = '{}'
      }
      if (kind !== null) {
        c.posts++
        c.bytes += body.length
        c.pending.push({ kind, body, encoding: req.headers['content-encoding'], type: String(req.headers['content-type'] ?? '') })
        lastArrival = Date.now()
      }
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(reply) })
      res.end(reply)
    })
  })
  server.keepAliveTimeout = 60_000
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        /** Start counting for a new run. */
        reset () { counts = emptyCounts(); lastArrival = 0 },
        /** ms since the last export arrived (Infinity if none yet). */
        quietFor () { return lastArrival === 0 ? Infinity : Date.now() - lastArrival },
        get posts () { return counts.posts },
        /** Decode what arrived and return the totals of this run. */
        snapshot () {
          decodePending(counts)
          const { pending, ...totals } = counts
          return totals
        },
        stop () {
          server.closeAllConnections()
          return new Promise((resolve) => server.close(() => resolve()))
        }
      })
    })
  })
}

module.exports = { startSink }
