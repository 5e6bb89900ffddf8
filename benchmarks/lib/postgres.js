'use strict'
// A throw-away PostgreSQL for the pg scenario: PG_URL when given, otherwise a private cluster on a free port
// (a JS port of test/helpers/postgres.ts; as root, the cluster belongs to the `postgres` user).
const { execFileSync, spawn } = require('node:child_process')
const { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } = require('node:fs')
const net = require('node:net')
const { tmpdir } = require('node:os')
const { join } = require('node:path')

const USER = 'postgres'
const DATABASE = 'apm_bench'

function findBinDir () {
  const root = '/usr/lib/postgresql'
  const majors = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
    : []
  if (majors.length === 0) throw new Error('PostgreSQL binaries not found in /usr/lib/postgresql/*/bin (install `postgresql` or set PG_URL)')
  return join(root, majors[0], 'bin')
}

function privateDir (asRoot) {
  if (!asRoot) return mkdtempSync(join(tmpdir(), 'apm-bench-pg-'))
  const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }))
  const gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }))
  for (const base of [...new Set([tmpdir(), '/tmp'])]) {
    const dir = mkdtempSync(join(base, 'apm-bench-pg-'))
    chownSync(dir, uid, gid)
    try {
      execFileSync('runuser', ['-u', USER, '--', 'test', '-w', dir], { stdio: 'ignore' })
      return dir
    } catch {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  throw new Error(`the ${USER} user cannot write under ${tmpdir()} or /tmp`)
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

// postgres in the foreground; stopped (fast shutdown) and its files removed when stdin closes — on stop(),
// and also when the bench process dies without cleaning up.
const SUPERVISOR = `
"$1/postgres" -D "$2/data" -p "$3" -k "$2" -c listen_addresses=127.0.0.1 \\
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40 -c shared_buffers=16MB \\
  -c max_wal_senders=0 -c wal_level=minimal -c autovacuum=off &
pid=$!
cat >/dev/null
kill -INT $pid 2>/dev/null
wait $pid
rm -rf "$2"
`

/** prefix: command prefix for the server (e.g. ['taskset', '-c', '1']), or []. */
async function startPostgres (prefix = []) {
  if (process.env.PG_URL) return { url: process.env.PG_URL, stop: async () => {} }
  const bin = findBinDir()
  const asRoot = process.getuid?.() === 0
  const asUser = asRoot ? ['runuser', '-u', USER, '--'] : []
  const dir = privateDir(asRoot)
  const [initCmd, ...initArgs] = [...asUser, join(bin, 'initdb'), '-D', join(dir, 'data'), '-U', USER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']
  try {
    execFileSync(initCmd, initArgs, { stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`initdb failed: ${String(err.stderr ?? err)}`)
  }
  let lastError = ''
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const [cmd, ...rest] = [...prefix, ...asUser, 'sh', '-c', SUPERVISOR, 'pg-supervisor', bin, dir, String(port)]
    const child = spawn(cmd, rest, { stdio: ['pipe', 'ignore', 'pipe'] })
    const ready = await waitReady(child)
    if (ready !== true) { lastError = ready; continue }
    child.stderr.resume()
    child.unref()
    child.stdin.unref()
    child.stderr.unref()
    execFileSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', USER, DATABASE], { stdio: ['ignore', 'pipe', 'pipe'] })
    const onExit = () => child.stdin.destroy()
    process.once('exit', onExit)
    return {
      url: `postgres://${USER}@127.0.0.1:${port}/${DATABASE}`,
      stop: async () => {
        process.removeListener('exit', onExit)
        if (child.exitCode === null && child.signalCode === null) {
          child.ref()
          await new Promise((resolve) => { child.on('exit', resolve); child.stdin.end() })
        }
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw new Error(`postgres did not start: ${lastError}`)
}

function waitReady (child) {
  return new Promise((resolve) => {
    let log = ''
    const timer = setTimeout(() => { child.stdin.end(); resolve('timed out:\n' + log) }, 60_000)
    const onData = (chunk) => {
      log += chunk.toString('utf8')
      if (log.includes('database system is ready to accept connections')) {
        clearTimeout(timer)
        child.stderr.removeListener('data', onData)
        child.removeListener('exit', onExit)
        resolve(true)
      }
    }
    const onExit = (code) => { clearTimeout(timer); resolve(`exited with ${code}:\n${log}`) }
    child.stderr.on('data', onData)
    child.on('exit', onExit)
  })
}

module.exports = { startPostgres }
