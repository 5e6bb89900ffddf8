// @ts-check
// Read-side queries over the store: services, transaction statistics and percentiles, time
// series, trace waterfalls, error groups and releases. Percentiles are computed here in JS over the
// durations SQLite returns (from covering indexes), which is exact and fast enough for one machine.
'use strict'

/** @param {ArrayLike<number>} sorted ascending @param {number} p 0..100 */
function percentile (sorted, p) {
  if (!sorted.length) return 0
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]
}

/** @param {number[]} durations in any order */
function stats (durations) {
  const sorted = Float64Array.from(durations).sort()
  let sum = 0
  for (const d of sorted) sum += d
  return {
    count: sorted.length,
    avgUs: sorted.length ? sum / sorted.length : 0,
    p50Us: percentile(sorted, 50),
    p95Us: percentile(sorted, 95),
    p99Us: percentile(sorted, 99),
    maxUs: sorted.length ? sorted[sorted.length - 1] : 0
  }
}

/**
 * Bucket width for a range: one minute up to 2 hours, then wider so charts keep ~120 points;
 * 15 seconds for ranges of 15 minutes or less, so a few minutes of traffic still draw a line.
 * @param {number} fromUs @param {number} toUs
 */
function bucketUs (fromUs, toUs) {
  const minute = 60e6
  if (toUs - fromUs <= 15 * minute) return 15e6
  return Math.max(minute, Math.ceil((toUs - fromUs) / 120 / minute) * minute)
}

/** App frames: not in node_modules and not node: internals. */
/** @param {string} line */
function isAppFrame (line) {
  const l = line.trim()
  if (!l.startsWith('at ')) return false
  return !l.includes('node_modules/') && !l.includes('node_modules\\') && !/\(node:|at node:|\(internal\/|at internal\/|\(native\)|<anonymous>/.test(l)
}

/** @param {import('better-sqlite3').Database} db */
function createQueries (db) {
  /** @param {string} sql */
  const q = (sql) => db.prepare(sql)

  /** @param {number} fromUs @param {number} toUs */
  function services (fromUs, toUs) {
    const names = /** @type {{ service: string, last: number }[]} */ (q(`SELECT service, max(last) AS last FROM (
      SELECT service, max(last_seen_us) AS last FROM releases GROUP BY service
      UNION ALL SELECT service, max(start_us) FROM spans WHERE tx_type IS NOT NULL GROUP BY service
      UNION ALL SELECT service, max(time_us) FROM errors GROUP BY service) GROUP BY service ORDER BY service`).all())
    const errCount = q('SELECT count(*) AS n FROM errors WHERE service = ? AND time_us >= ? AND time_us < ?')
    const envs = q('SELECT DISTINCT environment FROM spans WHERE service = ? AND tx_type IS NOT NULL AND start_us >= ? AND environment != \'\' LIMIT 5')
    return names.map(({ service, last }) => {
      const tx = overall(service, fromUs, toUs)
      return {
        service,
        lastSeenUs: last,
        environments: envs.all(service, fromUs).map((r) => /** @type {any} */ (r).environment),
        ...tx,
        errors: /** @type {any} */ (errCount.get(service, fromUs, toUs)).n
      }
    })
  }

  /** @param {string} service @param {number} fromUs @param {number} toUs @param {string} [name] */
  function durations (service, fromUs, toUs, name) {
    const rows = name === undefined
      ? q('SELECT duration_us AS d, failed AS f FROM spans WHERE service = ? AND tx_type IS NOT NULL AND start_us >= ? AND start_us < ?').all(service, fromUs, toUs)
      : q('SELECT duration_us AS d, failed AS f FROM spans WHERE service = ? AND name = ? AND tx_type IS NOT NULL AND start_us >= ? AND start_us < ?').all(service, name, fromUs, toUs)
    return /** @type {{ d: number, f: number }[]} */ (rows)
  }

  /** @param {string} service @param {number} fromUs @param {number} toUs @param {string} [name] */
  function overall (service, fromUs, toUs, name) {
    const rows = durations(service, fromUs, toUs, name)
    const failed = rows.reduce((n, r) => n + r.f, 0)
    const s = stats(rows.map((r) => r.d))
    return { ...s, throughputPerMin: s.count / ((toUs - fromUs) / 60e6), errorRate: s.count ? failed / s.count : 0 }
  }

  /** @param {string} service @param {number} fromUs @param {number} toUs @param {string} [type] */
  function transactions (service, fromUs, toUs, type) {
    const rows = /** @type {{ name: string, type: string, d: number, f: number }[]} */ (
      q(`SELECT name, tx_type AS type, duration_us AS d, failed AS f FROM spans WHERE service = ? AND tx_type IS NOT NULL
        AND start_us >= ? AND start_us < ? ${type ? 'AND tx_type = ?' : ''}`)
        .all(...[service, fromUs, toUs, ...(type ? [type] : [])]))
    /** @type {Map<string, { name: string, type: string, d: number[], failed: number }>} */
    const byName = new Map()
    for (const r of rows) {
      let g = byName.get(r.name)
      if (!g) byName.set(r.name, (g = { name: r.name, type: r.type, d: [], failed: 0 }))
      g.d.push(r.d)
      g.failed += r.f
    }
    const minutes = (toUs - fromUs) / 60e6
    return [...byName.values()].map((g) => {
      const s = stats(g.d)
      return { name: g.name, type: g.type, ...s, throughputPerMin: s.count / minutes, errorRate: g.failed / s.count, impactUs: s.avgUs * s.count }
    }).sort((a, b) => b.impactUs - a.impactUs)
  }

  /** @param {string} service */
  function transactionTypes (service) {
    return q('SELECT DISTINCT tx_type AS t FROM spans WHERE service = ? AND tx_type IS NOT NULL ORDER BY t').all(service).map((r) => /** @type {any} */ (r).t)
  }

  /**
   * Per bucket (one minute for ranges up to 2 h): count, throughput per minute, avg, p95, failures.
   * @param {string} service @param {number} fromUs @param {number} toUs @param {{ name?: string, type?: string }} [filter]
   */
  function series (service, fromUs, toUs, filter = {}) {
    const width = bucketUs(fromUs, toUs)
    const start = Math.floor(fromUs / width) * width
    const args = [service, fromUs, toUs]
    let where = ''
    if (filter.name !== undefined) { where += ' AND name = ?'; args.push(/** @type {any} */ (filter.name)) }
    if (filter.type) { where += ' AND tx_type = ?'; args.push(/** @type {any} */ (filter.type)) }
    const rows = /** @type {{ s: number, d: number, f: number }[]} */ (q(`SELECT start_us AS s, duration_us AS d, failed AS f FROM spans
      WHERE service = ? AND tx_type IS NOT NULL AND start_us >= ? AND start_us < ?${where}`).all(...args))
    const n = Math.max(1, Math.ceil((toUs - start) / width))
    /** @type {{ d: number[], f: number }[]} */
    const buckets = Array.from({ length: n }, () => ({ d: [], f: 0 }))
    for (const r of rows) {
      const b = buckets[Math.min(n - 1, Math.floor((r.s - start) / width))]
      b.d.push(r.d)
      b.f += r.f
    }
    return {
      bucketUs: width,
      points: buckets.map((b, i) => {
        const s = stats(b.d)
        return { tUs: start + i * width, count: s.count, throughputPerMin: s.count / (width / 60e6), avgUs: s.avgUs, p95Us: s.p95Us, failed: b.f }
      })
    }
  }

  /** @param {string} service @param {string} name @param {number} fromUs @param {number} toUs @param {number} [limit] */
  function slowest (service, name, fromUs, toUs, limit = 20) {
    return q(`SELECT trace_id AS traceId, span_id AS spanId, start_us AS startUs, duration_us AS durationUs, failed, http_status AS httpStatus,
      status_message AS statusMessage, release FROM spans WHERE service = ? AND name = ? AND tx_type IS NOT NULL AND start_us >= ? AND start_us < ?
      ORDER BY duration_us DESC LIMIT ?`).all(service, name, fromUs, toUs, limit)
  }

  /** @param {string} service @param {string} name @param {number} limit */
  function recent (service, name, limit = 20) {
    return q(`SELECT trace_id AS traceId, span_id AS spanId, start_us AS startUs, duration_us AS durationUs, failed, http_status AS httpStatus
      FROM spans WHERE service = ? AND name = ? AND tx_type IS NOT NULL ORDER BY start_us DESC LIMIT ?`).all(service, name, limit)
  }

  /**
   * All spans of a trace in start order, each with its depth in the tree (orphans at depth 0).
   * @param {string} traceId
   */
  function trace (traceId) {
    const rows = /** @type {any[]} */ (q(`SELECT span_id AS spanId, parent_span_id AS parentSpanId, service, name, kind, tx_type AS txType,
      start_us AS startUs, duration_us AS durationUs, status_code AS statusCode, status_message AS statusMessage, http_status AS httpStatus,
      failed, attributes, events, release, environment FROM spans WHERE trace_id = ? ORDER BY start_us, duration_us DESC`).all(traceId.toLowerCase()))
    /** @type {Map<string, any>} */
    const byId = new Map(rows.map((r) => [r.spanId, { ...r, attributes: JSON.parse(r.attributes), events: JSON.parse(r.events), children: [] }]))
    const roots = []
    for (const s of byId.values()) {
      const parent = s.parentSpanId && byId.get(s.parentSpanId)
      if (parent) parent.children.push(s)
      else roots.push(s)
    }
    /** @type {any[]} */
    const ordered = []
    const visit = (/** @type {any} */ s, /** @type {number} */ depth) => {
      s.depth = depth
      ordered.push(s)
      s.children.sort((/** @type {any} */ a, /** @type {any} */ b) => a.startUs - b.startUs)
      for (const c of s.children) visit(c, depth + 1)
      delete s.children
    }
    roots.sort((a, b) => a.startUs - b.startUs).forEach((r) => visit(r, 0))
    const startUs = ordered.length ? Math.min(...ordered.map((s) => s.startUs)) : 0
    const endUs = ordered.length ? Math.max(...ordered.map((s) => s.startUs + s.durationUs)) : 0
    const errors = q(`SELECT id, grouping_key AS groupingKey, service, type, message, span_id AS spanId, time_us AS timeUs
      FROM errors WHERE trace_id = ? ORDER BY time_us`).all(traceId.toLowerCase())
    return { traceId: traceId.toLowerCase(), startUs, durationUs: endUs - startUs, spans: ordered, errors }
  }

  /** @param {string} service @param {number} fromUs @param {number} toUs */
  function errorGroups (service, fromUs, toUs) {
    // SQLite: with a single max() aggregate, the bare columns come from the row holding the max (the latest).
    const groups = /** @type {any[]} */ (q(`SELECT grouping_key AS groupingKey, count(*) AS total, max(time_us) AS lastSeenUs,
      type, message, culprit, handled, transaction_name AS transactionName FROM errors WHERE service = ? GROUP BY grouping_key`).all(service))
    const first = q('SELECT release, min(time_us) AS firstSeenUs FROM errors WHERE service = ? AND grouping_key = ?')
    const inRange = q('SELECT count(*) AS n FROM errors WHERE service = ? AND grouping_key = ? AND time_us >= ? AND time_us < ?')
    return groups
      .filter((g) => g.lastSeenUs >= fromUs)
      .map((g) => {
        const f = /** @type {any} */ (first.get(service, g.groupingKey))
        return { ...g, firstSeenUs: f.firstSeenUs, firstRelease: f.release, count: /** @type {any} */ (inRange.get(service, g.groupingKey, fromUs, toUs)).n }
      })
      .sort((a, b) => b.count - a.count || b.lastSeenUs - a.lastSeenUs)
  }

  /** @param {string} service @param {string} key @param {number} fromUs @param {number} toUs */
  function errorGroup (service, key, fromUs, toUs) {
    const summary = /** @type {any} */ (q(`SELECT count(*) AS total, min(time_us) AS firstSeenUs, max(time_us) AS lastSeenUs
      FROM errors WHERE service = ? AND grouping_key = ?`).get(service, key))
    if (!summary.total) return null
    const cols = `id, time_us AS timeUs, type, message, stacktrace, culprit, handled, trace_id AS traceId, span_id AS spanId,
      transaction_name AS transactionName, release, environment, attributes`
    const latest = /** @type {any} */ (q(`SELECT ${cols} FROM errors WHERE service = ? AND grouping_key = ? ORDER BY time_us DESC LIMIT 1`).get(service, key))
    const first = /** @type {any} */ (q('SELECT release FROM errors WHERE service = ? AND grouping_key = ? ORDER BY time_us LIMIT 1').get(service, key))
    if (!latest.transactionName && latest.traceId) {
      const tx = /** @type {any} */ (q('SELECT name FROM spans WHERE trace_id = ? AND tx_type IS NOT NULL ORDER BY (span_id = ?) DESC, start_us LIMIT 1').get(latest.traceId, latest.spanId))
      if (tx) latest.transactionName = tx.name
    }
    latest.attributes = JSON.parse(latest.attributes)
    latest.frames = String(latest.stacktrace).split('\n').map((line) => ({ line, app: isAppFrame(line) }))
    const occurrences = q(`SELECT id, time_us AS timeUs, message, trace_id AS traceId, transaction_name AS transactionName, release, handled
      FROM errors WHERE service = ? AND grouping_key = ? ORDER BY time_us DESC LIMIT 20`).all(service, key)
    const width = bucketUs(fromUs, toUs)
    const start = Math.floor(fromUs / width) * width
    const n = Math.max(1, Math.ceil((toUs - start) / width))
    const counts = new Array(n).fill(0)
    for (const r of /** @type {any[]} */ (q('SELECT time_us AS t FROM errors WHERE service = ? AND grouping_key = ? AND time_us >= ? AND time_us < ?').all(service, key, fromUs, toUs))) {
      counts[Math.min(n - 1, Math.floor((r.t - start) / width))]++
    }
    return {
      groupingKey: key,
      ...summary,
      firstRelease: first.release,
      latest,
      occurrences,
      series: { bucketUs: width, points: counts.map((c, i) => ({ tUs: start + i * width, count: c })) }
    }
  }

  /** @param {string} service */
  function releases (service) {
    const rows = /** @type {any[]} */ (q('SELECT version, first_seen_us AS firstSeenUs, last_seen_us AS lastSeenUs FROM releases WHERE service = ? ORDER BY first_seen_us DESC').all(service))
    const txStats = q('SELECT count(*) AS n, sum(failed) AS f, avg(duration_us) AS avg FROM spans WHERE service = ? AND release = ? AND tx_type IS NOT NULL')
    const newGroups = /** @type {any[]} */ (q(`SELECT e.grouping_key AS groupingKey, e.release, e.type, e.message, min(e.time_us) AS firstSeenUs
      FROM errors e WHERE e.service = ? GROUP BY e.grouping_key`).all(service))
    return rows.map((r) => {
      const t = /** @type {any} */ (txStats.get(service, r.version))
      return {
        ...r,
        transactions: t.n,
        errorRate: t.n ? (t.f ?? 0) / t.n : 0,
        avgUs: t.avg ?? 0,
        newErrorGroups: newGroups.filter((g) => g.release === r.version).map(({ groupingKey, type, message, firstSeenUs }) => ({ groupingKey, type, message, firstSeenUs }))
      }
    })
  }

  function counts () {
    return /** @type {{ spans: number, transactions: number, errors: number, logs: number, metricPoints: number }} */ (q(`SELECT
      (SELECT count(*) FROM spans) AS spans, (SELECT count(*) FROM spans WHERE tx_type IS NOT NULL) AS transactions,
      (SELECT count(*) FROM errors) AS errors, (SELECT count(*) FROM logs) AS logs,
      (SELECT coalesce(sum(points), 0) FROM metric_points) AS metricPoints`).get())
  }

  return { services, overall, transactions, transactionTypes, series, slowest, recent, trace, errorGroups, errorGroup, releases, counts }
}

module.exports = { createQueries, percentile, isAppFrame, bucketUs }
