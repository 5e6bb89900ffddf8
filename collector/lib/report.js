// @ts-check
// `apm-collector report`: a terminal summary read straight from the store (read-only, safe
// while the collector runs): per service, transactions with p50/p95/p99, then the top error groups.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { openStore } = require('./store/schema.js')
const { createQueries } = require('./store/queries.js')
const { ms, pct, num, RANGES } = require('./ui/html.js')

/** @param {string[][]} rows @param {boolean[]} right which columns are right-aligned */
function table (rows, right) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) => r.map((c, i) => right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

/** @param {string} s @param {number} n */
const cut = (s, n) => s.length > n ? s.slice(0, n - 1) + '…' : s

/**
 * @param {{ dataDir: string, service?: string, range: string, top?: number }} o
 * @returns {string}
 */
function report (o) {
  const file = path.join(path.resolve(o.dataDir), 'apm.sqlite')
  if (!fs.existsSync(file)) {
    const err = new Error(`no collector data at ${path.resolve(o.dataDir)} (run apm-collector first, or pass --data)`)
    Object.assign(err, { code: 'NO_DATA' })
    throw err
  }
  const db = openStore(file, { readonly: true })
  try {
    const q = createQueries(db)
    const toUs = Date.now() * 1000
    const fromUs = toUs - RANGES[o.range]
    let services = q.services(fromUs, toUs)
    if (o.service) services = services.filter((s) => s.service === o.service)
    if (!services.length) {
      return o.service ? `No data for service ${o.service} in the last ${o.range}.` : `No data in the last ${o.range}.`
    }
    const out = []
    for (const s of services) {
      out.push(`== ${s.service}${s.environments.length ? ` (${s.environments.join(', ')})` : ''} — last ${o.range}: ${s.count} transactions, ${num(s.throughputPerMin)} tpm, error rate ${pct(s.errorRate)}, ${s.errors} errors`)
      const txs = q.transactions(s.service, fromUs, toUs)
      if (txs.length) {
        out.push('', 'Transactions')
        out.push(table([
          ['name', 'count', 'tpm', 'avg', 'p50', 'p95', 'p99', 'errors'],
          ...txs.slice(0, o.top ?? 20).map((t) => [cut(t.name, 48), String(t.count), num(t.throughputPerMin), ms(t.avgUs), ms(t.p50Us), ms(t.p95Us), ms(t.p99Us), pct(t.errorRate)])
        ], [false, true, true, true, true, true, true, true]))
      }
      const groups = q.errorGroups(s.service, fromUs, toUs)
      if (groups.length) {
        out.push('', 'Top error groups')
        out.push(table([
          ['count', 'error', 'culprit', 'first release', 'last seen'],
          ...groups.slice(0, o.top ?? 10).map((g) => [String(g.count), cut(`${g.type}: ${g.message}`, 60), cut(String(g.culprit || ''), 40), String(g.firstRelease || '—'), new Date(g.lastSeenUs / 1000).toISOString().slice(0, 19).replace('T', ' ')])
        ], [true, false, false, false, false]))
      }
      out.push('')
    }
    return out.join('\n')
  } finally {
    db.close()
  }
}

module.exports = { report }
