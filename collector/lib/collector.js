// @ts-check
// Wires the collector together: data directory, spool, store worker thread, read-only store for
// queries, and one HTTP server for intake (/v1/*), dashboard pages and the JSON API (lib/ui/routes.js).
'use strict'

const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { Spool } = require('./spool.js')
const { openStore } = require('./store/schema.js')
const { createQueries } = require('./store/queries.js')
const { superviseStoreWorker } = require('./store/supervisor.js')
const { createAuth } = require('./intake/auth.js')
const { RateLimiter } = require('./intake/rate-limit.js')
const { createIntake, send } = require('./intake/handler.js')
const { createRoutes, sendPage } = require('./ui/routes.js')

const DEFAULTS = {
  port: 4318,
  host: '127.0.0.1',
  dataDir: './apm-data',
  token: '',
  retentionDays: 7,
  maxBodyBytes: 16 * 1024 * 1024,
  spoolMaxBytes: 512 * 1024 * 1024,
  rateLimitPerSecond: 100,
  rateLimitBurst: 200,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  drain: true
}

class CollectorError extends Error {
  /** @param {string} code @param {string} message */
  constructor (code, message) {
    super(message)
    this.code = code
  }
}

/** @typedef {typeof DEFAULTS} CollectorOptions */

/**
 * mkdir -p without fs.mkdirSync's recursive mode, which spins forever on some paths
 * (node@20: mkdirSync('/proc/x', { recursive: true }) never returns).
 * @param {string} dir
 */
function mkdirp (dir) {
  try {
    if (fs.statSync(dir).isDirectory()) return
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ENOENT') throw err
    const parent = path.dirname(dir)
    if (parent !== dir) mkdirp(parent)
    fs.mkdirSync(dir)
    return
  }
  const err = /** @type {NodeJS.ErrnoException} */ (new Error(`${dir} is not a directory`))
  err.code = 'ENOTDIR'
  throw err
}

/** @param {string} dir */
function ensureWritableDir (dir) {
  try {
    mkdirp(dir)
    const probe = path.join(dir, `.write-test-${process.pid}`)
    fs.writeFileSync(probe, 'ok')
    fs.rmSync(probe)
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException} */ (err)
    throw new CollectorError('DATA_DIR', `data directory ${dir} is not writable (${e.code ?? e.message}); choose another with --data`)
  }
}

/** @param {Partial<CollectorOptions>} [options] */
async function startCollector (options = {}) {
  const o = { ...DEFAULTS, ...options }
  const dataDir = path.resolve(o.dataDir)
  ensureWritableDir(dataDir)
  const dbFile = path.join(dataDir, 'apm.sqlite')
  try {
    openStore(dbFile).close() // creates the schema before the readers open it
  } catch (err) {
    throw new CollectorError('DATA_DIR', `cannot open the store ${dbFile}: ${/** @type {Error} */ (err).message}`)
  }
  const spool = new Spool({ dir: path.join(dataDir, 'spool'), maxBytes: o.spoolMaxBytes })
  await spool.open()

  const stats = { accepted: 0, rejected: 0, unauthorized: 0, rateLimited: 0, spoolFull: 0, internalErrors: 0, storeErrors: 0 }
  let lastStoreError = ''
  /** @type {Set<() => void>} */
  const progressWaiters = new Set()
  const store = superviseStoreWorker({
    dbFile,
    spoolDir: spool.dir,
    retentionDays: o.retentionDays,
    paused: !o.drain,
    onProgress (segment, offset) {
      spool.consumed(segment, offset)
      for (const w of progressWaiters) w()
    },
    onError (message) {
      stats.storeErrors++
      lastStoreError = message
    }
  })

  const db = openStore(dbFile, { readonly: true })
  const queries = createQueries(db)
  const auth = createAuth(o.token)
  const intake = createIntake({
    auth,
    limiter: new RateLimiter({ perSecond: o.rateLimitPerSecond, burst: o.rateLimitBurst }),
    spool,
    maxBodyBytes: o.maxBodyBytes,
    bodyTimeoutMs: o.bodyTimeoutMs,
    onAppended: () => store.wake(),
    stats
  })

  function status () {
    return { pendingBytes: spool.pendingBytes, spoolMaxBytes: spool.maxBytes, stats, lastStoreError, storeRestarts: store.restarts, stored: queries.counts() }
  }

  const ui = createRoutes({ queries, status })

  /** @type {import('node:http').RequestListener} */
  const onRequest = (req, res) => {
    let url
    try {
      url = new URL(req.url ?? '/', 'http://collector')
    } catch {
      return send(res, 400, { error: 'bad request URL' })
    }
    if (url.pathname === '/v1/traces' || url.pathname === '/v1/logs' || url.pathname === '/v1/metrics') {
      intake(req, res, url.pathname)
      return
    }
    try {
      if (!ui(req, res, url)) {
        if (url.pathname.startsWith('/api/')) send(res, 404, { error: 'not found' })
        else sendPage(res, null)
      }
    } catch (err) {
      if (err instanceof URIError) return send(res, 400, { error: 'bad request URL' })
      stats.internalErrors++
      if (!res.headersSent) send(res, 500, { error: 'internal error' })
      else res.destroy()
    }
  }
  const server = http.createServer({
    headersTimeout: o.headersTimeoutMs,
    requestTimeout: o.headersTimeoutMs + o.bodyTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, o.headersTimeoutMs),
    keepAliveTimeout: 5000
  }, onRequest)
  // Expect: 100-continue — invite the body only from an authenticated client; others get their 401 first.
  server.on('checkContinue', (req, res) => {
    if (!req.url?.startsWith('/v1/') || auth(req.headers.authorization)) res.writeContinue()
    onRequest(req, res)
  })
  server.on('clientError', (err, socket) => {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code
    if (socket.writable) socket.end(code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
    socket.destroy()
  })

  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(o.port, o.host, () => { server.off('error', reject); resolve(undefined) })
    })
  } catch (err) {
    await store.stop()
    db.close()
    await spool.close()
    const e = /** @type {NodeJS.ErrnoException} */ (err)
    if (e.code === 'EADDRINUSE') throw new CollectorError('PORT_IN_USE', `port ${o.port} on ${o.host} is already in use; stop the other process or choose another with --port`)
    if (e.code === 'EACCES') throw new CollectorError('PORT_DENIED', `not allowed to listen on ${o.host}:${o.port}; choose a port above 1023 with --port`)
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') throw new CollectorError('BAD_HOST', `cannot listen on host ${o.host} (${e.code}); use --host 127.0.0.1`)
    throw err
  }
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address())
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  const url = `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${addr.port}`

  let closed = false
  return {
    url,
    port: addr.port,
    dataDir,
    stats,
    status,
    queries,
    /** Resolves once everything appended so far is in the store (or rejects after timeoutMs). */
    drained (timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        if (spool.pendingBytes === 0) return resolve(undefined)
        const timer = setTimeout(() => { progressWaiters.delete(check); reject(new Error(`spool not drained within ${timeoutMs} ms (${spool.pendingBytes} bytes pending)`)) }, timeoutMs)
        const check = () => {
          if (spool.pendingBytes === 0) { clearTimeout(timer); progressWaiters.delete(check); resolve(undefined) }
        }
        progressWaiters.add(check)
        store.wake()
      })
    },
    pauseDrain () { store.pause() },
    resumeDrain () { store.resume() },
    async close () {
      if (closed) return
      closed = true
      await new Promise((resolve) => {
        server.close(() => resolve(undefined))
        server.closeIdleConnections()
        setTimeout(() => server.closeAllConnections(), 2000).unref()
      })
      await spool.close()
      await store.stop()
      db.close()
    }
  }
}

module.exports = { startCollector, CollectorError, DEFAULTS, mkdirp }
