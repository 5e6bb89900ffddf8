// `npm run demo`: starts the collector, a throw-away PostgreSQL (when its binaries are installed) and the
// demo Express app instrumented by apm, drives traffic for a while (normal routes, errors, a slow endpoint,
// a release upgrade halfway), then prints the dashboard URL and the terminal report. Ctrl-C stops all of it.
// Flags: --once (stop after the report; also APM_DEMO_ONCE=1 or CI=true), --seconds N, --port N, --data DIR;
// APM_DEMO_NO_DB=1 skips PostgreSQL even when it is installed.
'use strict'

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { parseArgs } = require('node:util')

const ROOT = path.join(__dirname, '../..')
const BIN = path.join(__dirname, '../bin/apm-collector.js')
const { values: flags } = parseArgs({ options: { once: { type: 'boolean' }, seconds: { type: 'string' }, port: { type: 'string' }, data: { type: 'string' } } })
const DATA = path.resolve(flags.data ?? path.join(__dirname, '../apm-data'))
const once = !!flags.once || process.env.APM_DEMO_ONCE === '1' || process.env.CI === 'true'
const seconds = Number(flags.seconds ?? process.env.APM_DEMO_SECONDS ?? 30)
const log = (s) => { if (process.stdout.writable) process.stdout.write(`[demo] ${s}\n`) }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Everything we started, stopped in reverse order: { graceful (async), sync (for process exit) }. */
const cleanups = []
const state = { stopping: false }
async function shutdown (code) {
  if (state.stopping) return
  state.stopping = true
  while (cleanups.length) {
    const c = cleanups.pop()
    try { await c.graceful() } catch (err) { log(`cleanup: ${err.message}`) }
  }
  process.exit(code)
}
// Whatever ends this process (a crash, a closed stdout), leave no collector, app or database behind.
process.on('exit', () => {
  while (cleanups.length) {
    try { cleanups.pop().sync() } catch {}
  }
})
process.stdout.on('error', () => shutdown(1)) // e.g. EPIPE when piped into `head`
process.on('SIGINT', () => { log('stopping…'); shutdown(0) })
process.on('SIGTERM', () => shutdown(0))

/** @param {import('node:child_process').ChildProcess} child */
function childCleanup (child) {
  return { graceful: () => stopChild(child), sync: () => child.kill('SIGKILL') }
}

function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

function portFree (port) {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

/** Spawns a child and resolves once a line of its output matches. */
function startChild (name, cmd, args, opts, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${name} did not start in time:\n${out}`)) }, 20000)
    const onData = (d) => {
      out += d
      const m = ready.exec(out)
      if (m && timer) {
        clearTimeout(timer)
        resolve({ child, match: m })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', (d) => { out += d; if (!state.stopping && /error/i.test(String(d))) process.stderr.write(`[${name}] ${d}`) })
    child.on('exit', (code) => { clearTimeout(timer); if (!ready.exec(out)) reject(new Error(`${name} exited (${code}):\n${out}`)) })
  })
}

function stopChild (child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => { clearTimeout(timer); resolve() })
    child.kill('SIGTERM')
  })
}

function postgresBin () {
  const base = '/usr/lib/postgresql'
  if (!fs.existsSync(base)) return null
  const versions = fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin/initdb'))).sort((a, b) => Number(b) - Number(a))
  return versions.length ? path.join(base, versions[0], 'bin') : null
}

/** A throw-away cluster on a unix socket in a private temp dir (initdb refuses root: run it as postgres). */
async function startPostgres (bin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-demo-pg-'))
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true })
  cleanups.push({ graceful: removeDir, sync: removeDir })
  const asRoot = process.getuid && process.getuid() === 0
  const run = (cmd, args) => {
    const full = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args]] : [path.join(bin, cmd), args]
    const r = spawnSync(full[0], full[1], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout || r.error}`)
  }
  if (asRoot) spawnSync('chown', ['postgres:', dir])
  const port = await freePort()
  run('initdb', ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
  run('pg_ctl', ['-D', path.join(dir, 'data'), '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses='' -c fsync=off`, 'start'])
  const stopPg = () => run('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'fast', '-w', 'stop'])
  cleanups.push({ graceful: stopPg, sync: stopPg })
  return { PGHOST: dir, PGPORT: String(port), PGUSER: 'postgres', PGDATABASE: 'postgres' }
}

async function startApp (collectorUrl, release, dbEnv) {
  const { child, match } = await startChild(`app ${release}`, process.execPath, ['-r', 'apm/start', path.join(__dirname, 'app.js')], {
    cwd: ROOT,
    env: { ...process.env, ...dbEnv, PORT: '0', APM_SERVER_URL: collectorUrl, APM_SERVICE_NAME: 'demo-shop', APM_SERVICE_VERSION: release, APM_ENVIRONMENT: 'demo' }
  }, /demo app listening (\d+)/)
  return { child, url: `http://127.0.0.1:${match[1]}` }
}

/** One request of a realistic mix. */
let orderId = Date.now() % 1e6
async function oneRequest (base) {
  const r = Math.random()
  try {
    if (r < 0.35) await fetch(`${base}/users/${1 + Math.floor(Math.random() * 55)}`) // ids above 50 are 404s
    else if (r < 0.5) await fetch(`${base}/users`)
    else if (r < 0.68) {
      const id = Math.random() < 0.1 ? 1 : ++orderId // id 1 repeats: unique violations
      await fetch(`${base}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, userId: 3, quantity: Math.random() < 0.08 ? -1 : 2 }) })
    } else if (r < 0.8) await fetch(`${base}/recommendations`)
    else if (r < 0.88) await fetch(`${base}/slow`)
    else if (r < 0.94) await fetch(`${base}/profile`)
    else await fetch(`${base}/profile?session=1`)
  } catch {}
}

/** Every route once, so even a short run shows each kind of result. */
async function tour (base) {
  const post = (body) => fetch(`${base}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  for (const go of [
    () => fetch(`${base}/users/1`), () => fetch(`${base}/users/99`), () => fetch(`${base}/users`),
    () => post({ id: ++orderId, userId: 1, quantity: 1 }), () => post({ id: 1, userId: 1, quantity: 1 }), () => post({ id: 1, userId: 1, quantity: 1 }),
    () => post({ id: ++orderId, userId: 1, quantity: -1 }), () => fetch(`${base}/recommendations`), () => fetch(`${base}/slow`),
    () => fetch(`${base}/profile`), () => fetch(`${base}/profile?session=1`)
  ]) {
    try { await go() } catch {}
  }
}

async function drive (base, ms) {
  const end = Date.now() + ms
  await tour(base)
  let n = 11
  const worker = async () => {
    while (Date.now() < end && !state.stopping) {
      await oneRequest(base)
      n++
      await sleep(20 + Math.random() * 60)
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  return n
}

async function main () {
  if (!fs.existsSync(path.join(ROOT, 'dist/lib/start.js'))) throw new Error('the agent is not built: run `npm run build` (npm run demo does) first')
  try { require.resolve('express', { paths: [__dirname] }) } catch { throw new Error('express is not installed: run `npm install` at the repository root') }

  const wanted = Number(flags.port ?? 4318)
  const port = (await portFree(wanted)) ? wanted : 0
  if (port !== wanted) log(`port ${wanted} is busy; using a free port instead`)
  const { child: collector, match } = await startChild('collector', process.execPath, [BIN, '--port', String(port), '--data', DATA], {}, /listening on (http:\/\/\S+)/)
  cleanups.push(childCleanup(collector))
  const collectorUrl = match[1]
  const shown = path.relative(process.cwd(), DATA)
  log(`collector on ${collectorUrl} (data in ${shown && !shown.startsWith('..') ? shown : DATA})`)

  let dbEnv = {}
  const bin = process.env.APM_DEMO_NO_DB === '1' ? null : postgresBin()
  let pgOk = false
  if (bin) {
    try {
      dbEnv = await startPostgres(bin)
      pgOk = true
      log(`throw-away PostgreSQL from ${bin} on ${dbEnv.PGHOST}`)
    } catch (err) {
      log(`could not start PostgreSQL (${err.message.split('\n')[0]}); running without the database`)
    }
  } else {
    log(`${process.env.APM_DEMO_NO_DB === '1' ? 'APM_DEMO_NO_DB=1' : 'PostgreSQL binaries not found (/usr/lib/postgresql/*/bin)'}: the demo app keeps its data in memory, so there are no database spans`)
  }
  if (pgOk) try { require.resolve('pg', { paths: [__dirname] }) } catch { log('pg is not installed; running without the database'); dbEnv = {} }

  const half = Math.round((seconds * 1000) / 2)
  let app = await startApp(collectorUrl, '1.0.0', dbEnv)
  cleanups.push({ graceful: () => stopChild(app.child), sync: () => app.child.kill('SIGKILL') })
  log(`demo app (release 1.0.0) on ${app.url}; sending traffic for ${seconds} s…`)
  let total = await drive(app.url, half)
  log(`${total} requests; deploying release 1.1.0…`)
  await stopChild(app.child)
  app = await startApp(collectorUrl, '1.1.0', dbEnv)
  total += await drive(app.url, seconds * 1000 - half)
  log(`${total} requests sent; waiting for the agent to flush…`)
  await sleep(2500)
  for (let i = 0; i < 50; i++) {
    const s = await (await fetch(`${collectorUrl}/api/status`)).json()
    if (s.pendingBytes === 0 && s.stored.transactions > 0) break
    await sleep(200)
  }
  const status = await (await fetch(`${collectorUrl}/api/status`)).json()
  const report = spawnSync(process.execPath, [BIN, 'report', '--data', DATA, '--service', 'demo-shop', '--range', '15m'], { encoding: 'utf8' })
  process.stdout.write(`\n${report.stdout}${report.stderr}\n`)
  log(`stored so far: ${status.stored.transactions} transactions, ${status.stored.spans} spans, ${status.stored.errors} errors`)
  log(`dashboard: ${collectorUrl}/services/demo-shop/transactions?range=15m`)
  if (!status.stored.transactions) throw new Error('no transactions reached the collector')
  if (once) return shutdown(0)
  log('press Ctrl-C to stop the collector, the app and the database')
}

main().catch((err) => {
  process.stderr.write(`[demo] ${err.message}\n`)
  shutdown(1)
})
