// @ts-check
// Dashboard and JSON API routes (GET only): the same paths serve HTML pages and, under /api, JSON.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { send } = require('../intake/handler.js')
const { RANGES } = require('./html.js')
const pages = require('./pages.js')

const ASSETS = {
  '/assets/app.css': { file: path.join(__dirname, 'assets/app.css'), type: 'text/css; charset=utf-8' },
  '/assets/app.js': { file: path.join(__dirname, 'assets/app.js'), type: 'text/javascript; charset=utf-8' }
}

/** @param {import('node:http').ServerResponse} res @param {string | null} page */
function sendPage (res, page) {
  const body = page ?? pages.notFoundPage('Nothing here (yet).')
  res.writeHead(page ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
  res.end(body)
}

/**
 * @param {{ queries: ReturnType<typeof import('../store/queries.js').createQueries>, status: () => unknown }} ctx
 * @returns {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, url: URL) => boolean} false when nothing matched
 */
function createRoutes ({ queries, status }) {
  /** @param {URL} url */
  function view (url) {
    const range = RANGES[url.searchParams.get('range') ?? ''] ? /** @type {string} */ (url.searchParams.get('range')) : '1h'
    const toUs = Date.now() * 1000
    /** @type {Record<string, string>} */
    const query = {}
    for (const [k, v] of url.searchParams) if (k !== 'range') query[k] = v
    return { range, fromUs: toUs - RANGES[range], toUs, path: url.pathname, query }
  }

  /**
   * Serves the request when a route matches.
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {URL} url
   */
  function ui (req, res, url) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    const asset = ASSETS[/** @type {keyof typeof ASSETS} */ (url.pathname)]
    if (asset) {
      res.writeHead(200, { 'Content-Type': asset.type, 'Cache-Control': 'max-age=60' })
      res.end(fs.readFileSync(asset.file))
      return true
    }
    const v = view(url)
    const api = url.pathname.startsWith('/api/')
    const p = api ? url.pathname.slice(4) : url.pathname
    const parts = p.split('/').slice(1).map((x) => decodeURIComponent(x))
    const svc = parts[1]
    /** @param {unknown} data */
    const json = (data) => send(res, data === null || data === undefined ? 404 : 200, data ?? { error: 'not found' })
    if (p === '/' || p === '/services') {
      if (api) json(queries.services(v.fromUs, v.toUs))
      else sendPage(res, pages.servicesPage(queries, v))
    } else if (p === '/status' && api) {
      json(status())
    } else if (parts[0] === 'traces' && parts.length === 2) {
      if (api) json(queries.trace(parts[1]).spans.length ? queries.trace(parts[1]) : null)
      else sendPage(res, pages.tracePage(queries, v, parts[1]))
    } else if (parts[0] === 'services' && svc && parts[2] === 'transactions' && parts.length === 3) {
      const type = url.searchParams.get('type') ?? ''
      if (api) json({ transactions: queries.transactions(svc, v.fromUs, v.toUs, type || undefined), series: queries.series(svc, v.fromUs, v.toUs, { type: type || undefined }) })
      else sendPage(res, pages.transactionsPage(queries, v, svc, type))
    } else if (parts[0] === 'services' && svc && parts[2] === 'transactions' && parts[3] === 'view' && parts.length === 4) {
      const name = url.searchParams.get('name') ?? ''
      if (api) json({ name, ...queries.overall(svc, v.fromUs, v.toUs, name), slowest: queries.slowest(svc, name, v.fromUs, v.toUs), series: queries.series(svc, v.fromUs, v.toUs, { name }) })
      else sendPage(res, pages.transactionPage(queries, v, svc, name))
    } else if (parts[0] === 'services' && svc && parts[2] === 'errors' && parts.length === 3) {
      if (api) json(queries.errorGroups(svc, v.fromUs, v.toUs))
      else sendPage(res, pages.errorsPage(queries, v, svc))
    } else if (parts[0] === 'services' && svc && parts[2] === 'errors' && parts.length === 4) {
      if (api) json(queries.errorGroup(svc, parts[3], v.fromUs, v.toUs))
      else sendPage(res, pages.errorGroupPage(queries, v, svc, parts[3]))
    } else if (parts[0] === 'services' && svc && parts[2] === 'releases' && parts.length === 3) {
      if (api) json(queries.releases(svc))
      else sendPage(res, pages.releasesPage(queries, v, svc))
    } else if (parts[0] === 'services' && svc && parts.length === 2) {
      res.writeHead(302, { Location: `/services/${encodeURIComponent(svc)}/transactions` })
      res.end()
    } else {
      return false
    }
    return true
  }

  return ui
}

module.exports = { createRoutes, sendPage }
