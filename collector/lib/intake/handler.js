// @ts-check
// The OTLP/HTTP intake: authenticate (before reading the body), check content type and size,
// rate-limit, read and validate, then append the valid part to the durable spool and answer.
// It never writes to the store itself.
'use strict'

const { readBody, HttpError } = require('./body.js')
const { validateTraces, validateLogs, validateMetrics, nestingWithin, Invalid } = require('./otlp.js')
const { SpoolFullError } = require('../spool.js')

const MAX_JSON_DEPTH = 64
const SIGNALS = {
  '/v1/traces': { type: /** @type {'spans'} */ ('spans'), validate: validateTraces, rejectedField: 'rejectedSpans' },
  '/v1/logs': { type: /** @type {'logs'} */ ('logs'), validate: validateLogs, rejectedField: 'rejectedLogRecords' },
  '/v1/metrics': { type: /** @type {'metrics'} */ ('metrics'), validate: validateMetrics, rejectedField: 'rejectedDataPoints' }
}

/**
 * @param {{
 *   auth: (authorization: string | undefined) => boolean,
 *   limiter: import('./rate-limit.js').RateLimiter,
 *   spool: import('../spool.js').Spool,
 *   maxBodyBytes: number, bodyTimeoutMs: number,
 *   onAppended?: () => void,
 *   stats: Record<string, number>
 * }} ctx
 */
function createIntake (ctx) {
  const utf8 = new TextDecoder('utf-8', { fatal: true })

  /**
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   * @param {keyof typeof SIGNALS} route
   */
  return async function intake (req, res, route) {
    const signal = SIGNALS[route]
    try {
      if (req.method !== 'POST') throw new HttpError(405, 'use POST', { Allow: 'POST' })
      if (!ctx.auth(req.headers.authorization)) {
        ctx.stats.unauthorized++
        throw new HttpError(401, 'missing or invalid bearer token', { 'WWW-Authenticate': 'Bearer' })
      }
      const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
      if (type !== 'application/json') {
        throw new HttpError(415, type === 'application/x-protobuf'
          ? 'OTLP/protobuf is not supported; send OTLP/JSON (Content-Type: application/json)'
          : 'expected Content-Type: application/json')
      }
      const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
      if (!['identity', 'gzip', 'x-gzip', ''].includes(encoding)) {
        throw new HttpError(415, `unsupported Content-Encoding ${encoding}; use gzip or none`)
      }
      const declared = Number(req.headers['content-length'])
      if (declared > ctx.maxBodyBytes) throw new HttpError(413, `request body exceeds ${ctx.maxBodyBytes} bytes`)
      const key = req.headers.authorization ? `token:${req.headers.authorization}` : `addr:${req.socket.remoteAddress}`
      const wait = ctx.limiter.take(key)
      if (wait) {
        ctx.stats.rateLimited++
        throw new HttpError(429, 'rate limit exceeded', { 'Retry-After': String(wait) })
      }

      const raw = await readBody(req, { maxBytes: ctx.maxBodyBytes, timeoutMs: ctx.bodyTimeoutMs, gzip: encoding.endsWith('gzip') })
      let text
      try {
        text = utf8.decode(raw)
      } catch {
        throw new HttpError(400, 'request body is not valid UTF-8')
      }
      if (!nestingWithin(raw, MAX_JSON_DEPTH)) throw new HttpError(400, `JSON nested deeper than ${MAX_JSON_DEPTH} levels`)
      let body
      try {
        body = JSON.parse(text)
      } catch (err) {
        throw new HttpError(400, `invalid JSON: ${/** @type {Error} */ (err).message}`)
      }
      let result
      try {
        result = signal.validate(body)
      } catch (err) {
        if (err instanceof Invalid) throw new HttpError(400, err.message)
        throw err
      }
      if (result.accepted === 0 && result.rejected > 0) {
        ctx.stats.rejected += result.rejected
        throw new HttpError(400, result.firstError)
      }
      for (const b of result.batches) {
        const wait = ctx.limiter.take(`service:${b.resource.service}`)
        if (wait) {
          ctx.stats.rateLimited++
          throw new HttpError(429, `rate limit exceeded for service ${b.resource.service}`, { 'Retry-After': String(wait) })
        }
      }
      if (result.accepted > 0) {
        try {
          await ctx.spool.append(signal.type, Buffer.from(JSON.stringify(result.batches)))
        } catch (err) {
          ctx.stats.spoolFull++
          const e = /** @type {NodeJS.ErrnoException} */ (err)
          if (err instanceof SpoolFullError) throw new HttpError(503, 'spool is full; the store is behind, retry later', { 'Retry-After': '5' })
          if (e.code === 'ENOSPC' || e.code === 'EDQUOT') throw new HttpError(503, 'disk is full; retry later', { 'Retry-After': '30' })
          throw new HttpError(503, `spool unavailable: ${e.message}`, { 'Retry-After': '5' })
        }
        if (ctx.onAppended) ctx.onAppended()
      }
      ctx.stats.accepted += result.accepted
      ctx.stats.rejected += result.rejected
      send(res, 200, result.rejected
        ? { partialSuccess: { [signal.rejectedField]: String(result.rejected), errorMessage: result.firstError } }
        : {})
    } catch (err) {
      if (err instanceof HttpError) {
        send(res, err.status, { error: err.message }, err.headers, !req.complete)
      } else {
        ctx.stats.internalErrors++
        send(res, 500, { error: 'internal error' }, {}, !req.complete)
      }
    }
  }
}

/**
 * @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} body
 * @param {Record<string, string>} [headers] @param {boolean} [close] the body was not read: close the connection
 */
function send (res, status, body, headers = {}, close = false) {
  if (res.headersSent) return
  const json = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(json),
    ...(close ? { Connection: 'close' } : {}),
    ...headers
  })
  res.end(json)
  if (close) {
    // Do not read (or wait for) a body we refused; give the client a moment to read the answer.
    const socket = res.socket
    res.on('finish', () => setTimeout(() => socket?.destroy(), 250).unref())
  }
}

module.exports = { createIntake, send }
