// @ts-check
// The store worker (a worker thread): drains the spool into SQLite. Each step inserts a chunk of
// records and advances the spool checkpoint in the same SQLite transaction, so after a crash the
// spool is replayed from exactly where the store left off. Keeps retrying while the store is busy.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { parentPort, workerData } = require('node:worker_threads')
const { openStore } = require('./schema.js')
const { createIngest, applyRetention } = require('./ingest.js')
const { readFrom } = require('../spool-reader.js')
const { segmentName } = require('../spool.js')

const STEP_BYTES = 4 * 1024 * 1024
const IDLE_POLL_MS = 500
const RETENTION_EVERY_MS = 60 * 60 * 1000

/** @type {{ dbFile: string, spoolDir: string, retentionDays: number, paused?: boolean }} */
const cfg = workerData
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort)

let db = openStore(cfg.dbFile)
let ingest = createIngest(db)
const state = { stopping: false }
let paused = !!cfg.paused
/** @type {(() => void) | null} */
let wake = null
let lastRetention = 0

port.on('message', (msg) => {
  if (msg === 'stop') state.stopping = true
  if (msg === 'pause') paused = true
  if (msg === 'resume') paused = false
  if (wake) wake()
})

function checkpoint () {
  const row = /** @type {{ segment: number, offset: number } | undefined} */ (
    db.prepare('SELECT segment, offset FROM spool_checkpoint WHERE id = 1').get())
  return row ?? { segment: 0, offset: 0 }
}

/**
 * Errors worth retrying (the store is busy, full or briefly unreachable); anything else is a record
 * that can never be stored (a bug), which must not block the spool behind it.
 * @param {unknown} err
 */
function transient (err) {
  const code = String(/** @type {any} */ (err)?.code ?? '')
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL|NOMEM)/.test(code)
}

/** @param {import('../spool-reader.js').SpoolRecord} r @param {{ spans: number, logs: number, metrics: number }} stored @param {number} nowUs */
function ingestRecord (r, stored, nowUs) {
  const batch = JSON.parse(r.payload.toString('utf8'))
  if (r.type === 'spans') stored.spans += ingest.spans(batch)
  else if (r.type === 'logs') stored.logs += ingest.logs(batch)
  else stored.metrics += ingest.metrics(batch, nowUs)
}

/** @param {import('../spool-reader.js').Checkpoint} cp */
function saveCheckpoint (cp) {
  db.prepare('INSERT INTO spool_checkpoint (id, segment, offset) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET segment = excluded.segment, offset = excluded.offset')
    .run(cp.segment, cp.offset)
}

/** Returns true when it stored something (or moved past finished segments). */
function step () {
  const from = checkpoint()
  const { records, next, finished } = readFrom(cfg.spoolDir, from, STEP_BYTES)
  const moved = next.segment !== from.segment || next.offset !== from.offset
  if (!moved) return false
  const nowUs = Date.now() * 1000
  const stored = { spans: 0, logs: 0, metrics: 0, records: records.length, deadLetters: 0 }
  try {
    db.transaction(() => {
      for (const r of records) ingestRecord(r, stored, nowUs)
      saveCheckpoint(next)
    })()
  } catch (err) {
    if (transient(err)) throw err
    // One record cannot be stored: go one by one, set the bad ones aside in dead-letter/ and move on.
    Object.assign(stored, { spans: 0, logs: 0, metrics: 0 })
    for (const r of records) {
      try {
        db.transaction(() => { ingestRecord(r, stored, nowUs); saveCheckpoint(r.end) })()
      } catch (e) {
        if (transient(e)) throw e
        const dir = path.join(path.dirname(cfg.spoolDir), 'dead-letter')
        fs.mkdirSync(dir, { recursive: true })
        fs.writeFileSync(path.join(dir, `${segmentName(r.end.segment)}-${r.end.offset}.${r.type}.json`), r.payload)
        saveCheckpoint(r.end)
        stored.deadLetters++
        port.postMessage({ type: 'error', message: `a spool record could not be stored and was moved to ${dir}: ${/** @type {Error} */ (e).message}` })
      }
    }
    saveCheckpoint(next)
  }
  for (const n of finished) {
    if (n < next.segment) fs.rmSync(path.join(cfg.spoolDir, segmentName(n)), { force: true })
  }
  port.postMessage({ type: 'progress', segment: next.segment, offset: next.offset, stored })
  return true
}

async function main () {
  let backoffMs = 50
  port.postMessage({ type: 'progress', ...checkpoint(), stored: null })
  while (!state.stopping) {
    let progressed = false
    if (!paused) {
      try {
        progressed = step()
        backoffMs = 50
        if (Date.now() - lastRetention > RETENTION_EVERY_MS) {
          lastRetention = Date.now()
          applyRetention(db, cfg.retentionDays, Date.now() * 1000)
        }
      } catch (err) {
        // The store is busy or briefly unavailable: the spool keeps the data; try again later.
        port.postMessage({ type: 'error', message: String(/** @type {Error} */ (err).message) })
        await new Promise((resolve) => setTimeout(resolve, backoffMs))
        backoffMs = Math.min(backoffMs * 2, 5000)
        try { db.close() } catch {}
        try { db = openStore(cfg.dbFile); ingest = createIngest(db) } catch {}
        continue
      }
    }
    if (!progressed) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, IDLE_POLL_MS)
        wake = () => { clearTimeout(timer); wake = null; resolve(undefined) }
      })
    }
  }
  db.close()
  port.postMessage({ type: 'stopped' })
  port.close() // lets the thread end
}

main().catch((err) => {
  port.postMessage({ type: 'fatal', message: String(err && err.stack) })
  process.exit(1) // ends this thread only; the supervisor starts a new one
})
