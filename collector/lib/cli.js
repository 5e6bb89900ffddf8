// @ts-check
// Command line of apm-collector: `apm-collector [flags]` runs the collector, `apm-collector report`
// prints a summary. Bad flags, a port in use or an unwritable data directory end with one clear line.
'use strict'

const { parseArgs } = require('node:util')
const { startCollector, DEFAULTS } = require('./collector.js')
const { report } = require('./report.js')
const { RANGES } = require('./ui/html.js')

const USAGE = `Usage:
  apm-collector [--port 4318] [--host 127.0.0.1] [--data ./apm-data] [--token <secret>] [--retention-days 7]
                [--spool-max-mb 512] [--rate-limit 100]
  apm-collector report [--service <name>] [--data ./apm-data] [--range 24h]
  apm-collector --help | --version

Receives OTLP/HTTP JSON (/v1/traces, /v1/logs, /v1/metrics) from the apm agent or any OTLP exporter,
stores it in SQLite under --data and serves a dashboard on the same port.
  --token            require "Authorization: Bearer <token>" (default: env APM_COLLECTOR_TOKEN, else none)
  --retention-days   delete data older than this many days (default 7)
  --spool-max-mb     answer 503 when this much accepted data waits to be stored (default 512)
  --rate-limit       requests per second per token/address and per service (default 100, burst 2x)
  --range            report window: ${Object.keys(RANGES).join(', ')} (default 24h)`

class UsageError extends Error {}

/** @param {string} name @param {string | undefined} v @param {number} min @param {number} max */
function intFlag (name, v, min, max) {
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`)
  return Number(v)
}

/** @param {string} name @param {string | undefined} v */
function positiveFlag (name, v) {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw new UsageError(`--${name} must be a positive number, got "${v}"`)
  return n
}

/** @param {string[]} argv */
function parse (argv) {
  const command = argv[0] === 'report' ? 'report' : 'run'
  const args = command === 'report' ? argv.slice(1) : argv
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: command === 'report'
        ? { service: { type: 'string' }, data: { type: 'string' }, range: { type: 'string' }, help: { type: 'boolean', short: 'h' } }
        : {
            port: { type: 'string', short: 'p' },
            host: { type: 'string' },
            data: { type: 'string' },
            token: { type: 'string' },
            'retention-days': { type: 'string' },
            'spool-max-mb': { type: 'string' },
            'rate-limit': { type: 'string' },
            help: { type: 'boolean', short: 'h' },
            version: { type: 'boolean', short: 'v' }
          }
    })
    return { command, values: /** @type {Record<string, string | boolean | undefined>} */ (values) }
  } catch (err) {
    throw new UsageError(String(/** @type {Error} */ (err).message).split('\n')[0].replace(/\. To specify a positional argument.*$/, ''))
  }
}

/**
 * @param {string[]} argv
 * @param {{ out?: (s: string) => void, err?: (s: string) => void, env?: NodeJS.ProcessEnv }} [io]
 * @returns {Promise<number | null>} exit code, or null while the collector keeps running
 */
async function main (argv, io = {}) {
  const out = io.out ?? ((s) => process.stdout.write(s + '\n'))
  const err = io.err ?? ((s) => process.stderr.write(s + '\n'))
  const env = io.env ?? process.env
  let parsed
  try {
    parsed = parse(argv)
  } catch (e) {
    err(`apm-collector: ${/** @type {Error} */ (e).message}\n\n${USAGE}`)
    return 2
  }
  const v = parsed.values
  if (v.help) {
    out(USAGE)
    return 0
  }
  if (v.version) {
    out(require('../package.json').version)
    return 0
  }
  try {
    if (parsed.command === 'report') {
      const range = /** @type {string} */ (v.range ?? '24h')
      if (!RANGES[range]) throw new UsageError(`--range must be one of ${Object.keys(RANGES).join(', ')}, got "${range}"`)
      out(report({ dataDir: /** @type {string} */ (v.data ?? DEFAULTS.dataDir), service: /** @type {string | undefined} */ (v.service), range }))
      return 0
    }
    const spoolMb = positiveFlag('spool-max-mb', /** @type {string | undefined} */ (v['spool-max-mb']))
    const rate = positiveFlag('rate-limit', /** @type {string | undefined} */ (v['rate-limit']))
    const host = /** @type {string} */ (v.host ?? DEFAULTS.host)
    if (!host) throw new UsageError('--host must not be empty')
    const options = {
      port: intFlag('port', /** @type {string | undefined} */ (v.port), 0, 65535) ?? DEFAULTS.port,
      host,
      dataDir: /** @type {string} */ (v.data ?? DEFAULTS.dataDir),
      token: /** @type {string} */ (v.token ?? env.APM_COLLECTOR_TOKEN ?? ''),
      retentionDays: positiveFlag('retention-days', /** @type {string | undefined} */ (v['retention-days'])) ?? DEFAULTS.retentionDays,
      ...(spoolMb ? { spoolMaxBytes: Math.floor(spoolMb * 1024 * 1024) } : {}),
      ...(rate ? { rateLimitPerSecond: rate, rateLimitBurst: Math.max(1, Math.ceil(rate * 2)) } : {})
    }
    const c = await startCollector(options)
    out(`apm-collector listening on ${c.url}`)
    out(`  OTLP/HTTP intake  ${c.url}/v1/traces  /v1/logs  /v1/metrics`)
    out(`  dashboard         ${c.url}/`)
    out(`  data              ${c.dataDir} (retention ${options.retentionDays} days)`)
    out(`  auth              ${options.token ? 'bearer token required' : 'none (set --token to require one)'}`)
    if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
      out('  warning           listening beyond this machine: the dashboard has no login; use --token for the intake')
    }
    let stopping = false
    const stop = () => {
      if (stopping) return
      stopping = true
      c.close().then(() => process.exit(0), (e) => { err(`apm-collector: ${e.message}`); process.exit(1) })
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    return null
  } catch (e) {
    const error = /** @type {Error & { code?: string }} */ (e)
    if (e instanceof UsageError) {
      err(`apm-collector: ${error.message}\n\n${USAGE}`)
      return 2
    }
    err(`apm-collector: ${error.code && ['PORT_IN_USE', 'PORT_DENIED', 'BAD_HOST', 'DATA_DIR', 'NO_DATA'].includes(error.code) ? error.message : error.stack}`)
    return 1
  }
}

module.exports = { main, parse, USAGE }
