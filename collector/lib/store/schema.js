// @ts-check
// Opens the SQLite store (WAL) and creates its tables. Shared by the store worker (writer),
// the dashboard and the `report` command (readers).
'use strict'

const Database = require('better-sqlite3')

const SCHEMA = `
CREATE TABLE IF NOT EXISTS spans (
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT NOT NULL,
  service TEXT NOT NULL,
  environment TEXT NOT NULL,
  release TEXT NOT NULL,
  instance TEXT NOT NULL,
  name TEXT NOT NULL,
  kind INTEGER NOT NULL,
  tx_type TEXT,               -- set only for transactions (entry spans)
  start_us INTEGER NOT NULL,
  duration_us INTEGER NOT NULL,
  status_code INTEGER NOT NULL,
  status_message TEXT NOT NULL,
  http_status INTEGER,
  failed INTEGER NOT NULL,
  attributes TEXT NOT NULL,
  events TEXT NOT NULL,
  scope TEXT NOT NULL,
  PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;
-- Covering indexes over transactions only: the dashboard's aggregations never touch the table itself.
CREATE INDEX IF NOT EXISTS spans_tx_time ON spans (service, start_us, name, tx_type, duration_us, failed) WHERE tx_type IS NOT NULL;
CREATE INDEX IF NOT EXISTS spans_tx_name ON spans (service, name, start_us, duration_us, failed) WHERE tx_type IS NOT NULL;
CREATE INDEX IF NOT EXISTS spans_tx_release ON spans (service, release, failed, duration_us) WHERE tx_type IS NOT NULL;
CREATE INDEX IF NOT EXISTS spans_tx_type ON spans (service, tx_type) WHERE tx_type IS NOT NULL;
CREATE INDEX IF NOT EXISTS spans_start ON spans (start_us);

CREATE TABLE IF NOT EXISTS errors (
  id TEXT PRIMARY KEY,
  service TEXT NOT NULL,
  environment TEXT NOT NULL,
  release TEXT NOT NULL,
  grouping_key TEXT NOT NULL,
  time_us INTEGER NOT NULL,
  type TEXT NOT NULL,
  message TEXT NOT NULL,
  stacktrace TEXT NOT NULL,
  culprit TEXT NOT NULL,
  handled INTEGER,
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  transaction_name TEXT NOT NULL,
  attributes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS errors_group ON errors (service, grouping_key, time_us);
CREATE INDEX IF NOT EXISTS errors_time ON errors (time_us);
CREATE INDEX IF NOT EXISTS errors_trace ON errors (trace_id);

CREATE TABLE IF NOT EXISTS logs (
  id TEXT PRIMARY KEY,
  service TEXT NOT NULL,
  time_us INTEGER NOT NULL,
  severity INTEGER NOT NULL,
  body TEXT NOT NULL,
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_time ON logs (time_us);

CREATE TABLE IF NOT EXISTS releases (
  service TEXT NOT NULL,
  version TEXT NOT NULL,
  first_seen_us INTEGER NOT NULL,
  last_seen_us INTEGER NOT NULL,
  PRIMARY KEY (service, version)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS metric_points (
  service TEXT NOT NULL,
  name TEXT NOT NULL,
  minute INTEGER NOT NULL,
  points INTEGER NOT NULL,
  PRIMARY KEY (service, name, minute)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS spool_checkpoint (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  segment INTEGER NOT NULL,
  offset INTEGER NOT NULL
);
`

/**
 * @param {string} file
 * @param {{ readonly?: boolean }} [opts]
 * @returns {import('better-sqlite3').Database}
 */
function openStore (file, opts = {}) {
  if (opts.readonly) {
    const db = new Database(file, { readonly: true, fileMustExist: true })
    db.pragma('busy_timeout = 2000')
    return db
  }
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  // With WAL, NORMAL may lose the last commits on power loss but never corrupts; the spool
  // checkpoint lives in the same transactions, so lost commits are simply replayed from the spool.
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  db.exec(SCHEMA)
  return db
}

module.exports = { openStore }
