// @ts-check
// Turns normalized spool batches into store rows. Idempotent: spans are keyed by
// (trace id, span id) and log records by a content hash, so a replayed or retried batch is stored once.
'use strict'

const crypto = require('node:crypto')

/** @typedef {import('../intake/otlp.js').Span} Span */
/** @typedef {import('../intake/otlp.js').LogRecord} LogRecord */
/** @typedef {import('../intake/otlp.js').Resource} Resource */

/**
 * Our agent marks entry spans with apm.transaction.type; for other OTLP exporters, root spans
 * and SERVER (2) / CONSUMER (5) spans are transactions.
 * @param {Span} s @returns {string | null}
 */
function transactionType (s) {
  const t = s.attributes['apm.transaction.type']
  if (typeof t === 'string' && t) return t
  if (s.kind === 2) return 'request'
  if (s.kind === 5) return 'messaging'
  if (!s.parentSpanId) return s.kind === 0 || s.kind === 1 ? 'custom' : 'request'
  return null
}

/** @param {any} v */
function int (v) {
  const n = typeof v === 'string' ? Number(v) : v
  return typeof n === 'number' && Number.isInteger(n) ? n : null
}

/** @param {any} v */
function str (v) {
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v)
}

/** @param {import('better-sqlite3').Database} db */
function createIngest (db) {
  const insertSpan = db.prepare(`INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, service, environment,
    release, instance, name, kind, tx_type, start_us, duration_us, status_code, status_message, http_status, failed,
    attributes, events, scope) VALUES (@traceId, @spanId, @parentSpanId, @service, @environment, @release, @instance,
    @name, @kind, @txType, @startUs, @durationUs, @statusCode, @statusMessage, @httpStatus, @failed, @attributes, @events, @scope)`)
  const insertError = db.prepare(`INSERT OR IGNORE INTO errors (id, service, environment, release, grouping_key, time_us,
    type, message, stacktrace, culprit, handled, trace_id, span_id, transaction_name, attributes) VALUES (@id, @service,
    @environment, @release, @groupingKey, @timeUs, @type, @message, @stacktrace, @culprit, @handled, @traceId, @spanId,
    @transactionName, @attributes)`)
  const insertLog = db.prepare(`INSERT OR IGNORE INTO logs (id, service, time_us, severity, body, trace_id, span_id)
    VALUES (@id, @service, @timeUs, @severity, @body, @traceId, @spanId)`)
  const upsertRelease = db.prepare(`INSERT INTO releases (service, version, first_seen_us, last_seen_us) VALUES (?, ?, ?, ?)
    ON CONFLICT (service, version) DO UPDATE SET first_seen_us = min(first_seen_us, excluded.first_seen_us),
    last_seen_us = max(last_seen_us, excluded.last_seen_us)`)
  const upsertMetric = db.prepare(`INSERT INTO metric_points (service, name, minute, points) VALUES (?, ?, ?, ?)
    ON CONFLICT (service, name, minute) DO UPDATE SET points = points + excluded.points`)

  /** @param {Resource} r @param {number} timeUs */
  function seenRelease (r, timeUs) {
    if (r.version && timeUs) upsertRelease.run(r.service, r.version, timeUs, timeUs)
  }

  /** @param {{ resource: Resource, items: Span[] }[]} batches */
  function spans (batches) {
    let stored = 0
    for (const { resource: r, items } of batches) {
      let first = 0
      let last = 0
      for (const s of items) {
        const httpStatus = int(s.attributes['http.response.status_code'] ?? s.attributes['http.status_code'])
        const txType = transactionType(s)
        const info = insertSpan.run({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId,
          service: r.service,
          environment: r.environment,
          release: r.version,
          instance: r.instanceId,
          name: s.name,
          kind: s.kind,
          txType,
          startUs: s.startUs,
          durationUs: s.endUs - s.startUs,
          statusCode: s.statusCode,
          statusMessage: s.statusMessage,
          httpStatus,
          failed: s.statusCode === 2 || (txType !== null && httpStatus !== null && httpStatus >= 500) ? 1 : 0,
          attributes: JSON.stringify(s.attributes),
          events: JSON.stringify(s.events),
          scope: s.scope
        })
        stored += info.changes
        if (!first || s.startUs < first) first = s.startUs
        if (s.startUs > last) last = s.startUs
      }
      seenRelease(r, first)
      seenRelease(r, last)
    }
    return stored
  }

  /** @param {{ resource: Resource, items: LogRecord[] }[]} batches */
  function logs (batches) {
    let stored = 0
    for (const { resource: r, items } of batches) {
      for (const l of items) {
        const a = l.attributes
        const timeUs = l.timeUs || l.observedUs
        const id = crypto.createHash('sha256')
          .update(JSON.stringify([r.service, r.instanceId, l.traceId, l.spanId, l.timeUs, l.observedUs, l.severityNumber, l.body, a]))
          .digest('hex').slice(0, 32)
        const isError = l.severityNumber >= 17 || a['exception.type'] !== undefined || a['exception.message'] !== undefined
        if (isError) {
          const type = str(a['exception.type']) || 'Error'
          const message = str(a['exception.message']) || str(l.body)
          const culprit = str(a['apm.error.culprit'])
          const groupingKey = str(a['apm.error.grouping_key']) ||
            crypto.createHash('sha256').update(`${type}\n${culprit || message}`).digest('hex').slice(0, 32)
          const handled = a['apm.error.handled']
          stored += insertError.run({
            id,
            service: r.service,
            environment: r.environment,
            release: r.version,
            groupingKey,
            timeUs,
            type,
            message,
            stacktrace: str(a['exception.stacktrace']),
            culprit,
            handled: typeof handled === 'boolean' ? (handled ? 1 : 0) : null,
            traceId: l.traceId,
            spanId: l.spanId,
            transactionName: str(a['apm.transaction.name']),
            attributes: JSON.stringify(a)
          }).changes
          seenRelease(r, timeUs)
        } else {
          stored += insertLog.run({ id, service: r.service, timeUs, severity: l.severityNumber, body: str(l.body), traceId: l.traceId, spanId: l.spanId }).changes
        }
      }
    }
    return stored
  }

  /** @param {{ resource: Resource, items: { name: string, points: number }[] }[]} batches @param {number} nowUs */
  function metrics (batches, nowUs) {
    const minute = Math.floor(nowUs / 60e6) * 60
    let stored = 0
    for (const { resource: r, items } of batches) {
      for (const m of items) {
        upsertMetric.run(r.service, m.name, minute, m.points)
        stored++
      }
    }
    return stored
  }

  return { spans, logs, metrics }
}

/**
 * Deletes data older than the retention window.
 * @param {import('better-sqlite3').Database} db @param {number} retentionDays @param {number} nowUs
 */
function applyRetention (db, retentionDays, nowUs) {
  const cutoff = nowUs - retentionDays * 86400e6
  return db.transaction(() => {
    let n = db.prepare('DELETE FROM spans WHERE start_us < ?').run(cutoff).changes
    n += db.prepare('DELETE FROM errors WHERE time_us < ?').run(cutoff).changes
    n += db.prepare('DELETE FROM logs WHERE time_us < ?').run(cutoff).changes
    n += db.prepare('DELETE FROM releases WHERE last_seen_us < ?').run(cutoff).changes
    n += db.prepare('DELETE FROM metric_points WHERE minute < ?').run(Math.floor(cutoff / 1e6)).changes
    return n
  })()
}

module.exports = { createIngest, applyRetention, transactionType }
