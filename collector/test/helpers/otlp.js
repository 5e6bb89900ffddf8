// @ts-check
// Builders of OTLP/HTTP JSON payloads as our agent sends them, and a small HTTP client to post them.
'use strict'

const crypto = require('node:crypto')
const http = require('node:http')
const zlib = require('node:zlib')

const hex = (/** @type {number} */ bytes) => crypto.randomBytes(bytes).toString('hex')
/** @param {number} ms */
const ns = (ms) => String(BigInt(Math.round(ms * 1000)) * 1000n)

/** @param {string} key @param {any} v */
function attr (key, v) {
  if (typeof v === 'string') return { key, value: { stringValue: v } }
  if (typeof v === 'boolean') return { key, value: { boolValue: v } }
  if (Number.isInteger(v)) return { key, value: { intValue: String(v) } }
  return { key, value: { doubleValue: v } }
}
/** @param {Record<string, any>} o */
const attrs = (o) => Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => attr(k, v))

/** @param {{ service?: string, version?: string, environment?: string }} [r] */
function resource (r = {}) {
  return {
    attributes: attrs({
      'service.name': r.service ?? 'shop',
      'service.version': r.version ?? '1.0.0',
      'deployment.environment.name': r.environment ?? 'test',
      'service.instance.id': 'inst-1',
      'host.name': 'test-host'
    })
  }
}

/**
 * One request transaction with optional db child spans.
 * @param {{ name?: string, route?: string, method?: string, status?: number, durationMs?: number, startMs?: number,
 *   children?: { name: string, offsetMs: number, durationMs: number, attributes?: Record<string, any> }[], error?: boolean, traceId?: string, type?: string }} [o]
 */
function transaction (o = {}) {
  const traceId = o.traceId ?? hex(16)
  const spanId = hex(8)
  const start = o.startMs ?? Date.now() - (o.durationMs ?? 20)
  const method = o.method ?? 'GET'
  const route = o.route ?? '/users/:id'
  const status = o.status ?? 200
  const tx = {
    traceId,
    spanId,
    name: o.name ?? `${method} ${route}`,
    kind: 2,
    startTimeUnixNano: ns(start),
    endTimeUnixNano: ns(start + (o.durationMs ?? 20)),
    attributes: attrs({ 'apm.transaction.type': o.type ?? 'request', 'http.request.method': method, 'http.route': route, 'url.path': route.replace(':id', '42'), 'http.response.status_code': status }),
    events: [],
    status: { code: o.error || status >= 500 ? 2 : 0 }
  }
  const spans = (o.children ?? []).map((c) => ({
    traceId,
    spanId: hex(8),
    parentSpanId: spanId,
    name: c.name,
    kind: 3,
    startTimeUnixNano: ns(start + c.offsetMs),
    endTimeUnixNano: ns(start + c.offsetMs + c.durationMs),
    attributes: attrs(c.attributes ?? { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM users WHERE id = $1' }),
    status: { code: 0 }
  }))
  return [tx, ...spans]
}

/** @param {any[]} spans @param {{ service?: string, version?: string }} [r] */
function traces (spans, r) {
  return { resourceSpans: [{ resource: resource(r), scopeSpans: [{ scope: { name: 'apm', version: '0.1.0' }, spans }] }] }
}

/**
 * @param {{ type?: string, message?: string, key?: string, culprit?: string, handled?: boolean, traceId?: string, spanId?: string,
 *   transactionName?: string, timeMs?: number, stack?: string }} [o]
 */
function errorRecord (o = {}) {
  const type = o.type ?? 'TypeError'
  const message = o.message ?? "Cannot read properties of undefined (reading 'id')"
  return {
    timeUnixNano: ns(o.timeMs ?? Date.now()),
    observedTimeUnixNano: ns(o.timeMs ?? Date.now()),
    severityNumber: 17,
    severityText: 'ERROR',
    body: { stringValue: `${type}: ${message}` },
    attributes: attrs({
      'exception.type': type,
      'exception.message': message,
      'exception.stacktrace': o.stack ?? `${type}: ${message}\n    at loadUser (/srv/app/routes/users.js:14:22)\n    at Layer.handle (/srv/app/node_modules/express/lib/router/layer.js:95:5)\n    at next (/srv/app/node_modules/express/lib/router/route.js:149:13)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`,
      'apm.error.grouping_key': o.key ?? 'group-users-1',
      'apm.error.culprit': o.culprit ?? 'loadUser (routes/users.js)',
      'apm.error.handled': o.handled ?? false,
      'apm.transaction.name': o.transactionName
    }),
    traceId: o.traceId ?? hex(16),
    spanId: o.spanId ?? hex(8)
  }
}

/** @param {any[]} records @param {{ service?: string, version?: string }} [r] */
function logs (records, r) {
  return { resourceLogs: [{ resource: resource(r), scopeLogs: [{ scope: { name: 'apm' }, logRecords: records }] }] }
}

/**
 * @param {string} base @param {string} path @param {unknown} body
 * @param {{ gzip?: boolean, token?: string, headers?: Record<string, string>, raw?: Buffer | string }} [o]
 * @returns {Promise<{ status: number, headers: import('node:http').IncomingHttpHeaders, body: any, text: string }>}
 */
function post (base, path, body, o = {}) {
  let buf = o.raw !== undefined ? Buffer.from(o.raw) : Buffer.from(JSON.stringify(body))
  if (o.gzip) buf = zlib.gzipSync(buf)
  /** @type {Record<string, string>} */
  const headers = { 'Content-Type': 'application/json', 'Content-Length': String(buf.length), ...(o.gzip ? { 'Content-Encoding': 'gzip' } : {}), ...(o.token ? { Authorization: `Bearer ${o.token}` } : {}), ...o.headers }
  return request(base + path, { method: 'POST', headers }, buf)
}

/**
 * @param {string} url @param {import('node:http').RequestOptions} opts @param {Buffer} [buf]
 * @returns {Promise<{ status: number, headers: import('node:http').IncomingHttpHeaders, body: any, text: string }>}
 */
function request (url, opts = {}, buf) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...opts }, (res) => {
      const chunks = /** @type {Buffer[]} */ ([])
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body = null
        try { body = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(buf)
  })
}

/** @param {string} url */
const get = (url) => request(url, { method: 'GET' })

module.exports = { hex, ns, attrs, resource, transaction, traces, errorRecord, logs, post, request, get }
