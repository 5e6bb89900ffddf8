// A real PostgreSQL for tests: PG_URL when given, otherwise a throw-away cluster (private dir, free port, trust auth).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Postgres {
  /** postgres://user@host:port/database */
  url: string
  host: string
  port: number
  user: string
  database: string
  /** Stop the cluster and remove its files (a no-op for PG_URL). */
  stop (): Promise<void>
}

const DATABASE = 'apm_test'
const USER = 'postgres'

/** Start (or, with PG_URL, describe) a PostgreSQL server; call stop() in t.teardown. */
export async function startPostgres (): Promise<Postgres> {
  const given = process.env.PG_URL
  if (given !== undefined && given !== '') {
    const u = new URL(given)
    return {
      url: given,
      host: u.hostname,
      port: Number(u.port === '' ? 5432 : u.port),
      user: decodeURIComponent(u.username),
      database: decodeURIComponent(u.pathname.slice(1)),
      stop: async () => {}
    }
  }
  return startCluster()
}

/** The newest /usr/lib/postgresql/<major>/bin that has initdb, or a clear error. */
function findBinDir (): string {
  const root = '/usr/lib/postgresql'
  const majors = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
    : []
  if (majors.length === 0) {
    throw new Error('PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: install Debian\'s `postgresql` package, or set PG_URL=postgres://user@host:port/db')
  }
  return join(root, majors[0]!, 'bin')
}

/** A fresh directory under os.tmpdir() (as root: owned by postgres, in /tmp if postgres cannot reach tmpdir()). */
function privateDir (asRoot: boolean): string {
  if (!asRoot) return mkdtempSync(join(tmpdir(), 'apm-pg-'))
  const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }))
  const gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }))
  for (const base of [...new Set([tmpdir(), '/tmp'])]) {
    const dir = mkdtempSync(join(base, 'apm-pg-'))
    chownSync(dir, uid, gid)
    try {
      execFileSync('runuser', ['-u', USER, '--', 'test', '-w', dir], { stdio: 'ignore' })
      return dir
    } catch {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  throw new Error(`the ${USER} user cannot write to a directory under ${tmpdir()} or /tmp`)
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

// Runs postgres in the foreground and stops it (fast shutdown), then deletes the cluster, once its stdin
// closes: on stop(), and also when the test process dies without cleaning up.
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

async function startCluster (): Promise<Postgres> {
  const bin = findBinDir()
  const asRoot = process.getuid?.() === 0
  // initdb refuses to run as root: the cluster then belongs to the `postgres` system user.
  const prefix = asRoot ? ['runuser', '-u', USER, '--'] : []
  const run = (file: string, args: string[]): string => {
    const [cmd, ...rest] = [...prefix, file, ...args]
    return execFileSync(cmd!, rest, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  }

  const dir = privateDir(asRoot)
  try {
    run(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-U', USER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'])
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`initdb failed: ${String((err as { stderr?: string }).stderr ?? err)}`)
  }

  // A port picked now may be taken by someone else before postgres binds it: retry with another.
  let lastError = ''
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const [cmd, ...rest] = [...prefix, 'sh', '-c', SUPERVISOR, 'pg-supervisor', bin, dir, String(port)]
    const child = spawn(cmd!, rest, { stdio: ['pipe', 'ignore', 'pipe'] })
    const ready = await waitReady(child)
    if (ready !== true) {
      lastError = ready
      continue
    }
    child.stderr!.resume()
    // Never keeps the test process alive; if it exits without stop(), the closed pipe stops postgres.
    child.unref()
    ;(child.stdin as unknown as { unref (): void }).unref()
    ;(child.stderr as unknown as { unref (): void }).unref()
    try {
      execFileSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', USER, DATABASE], { stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err) {
      await stopChild(child)
      throw new Error(`createdb failed: ${String((err as { stderr?: Buffer }).stderr ?? err)}`)
    }
    const onExit = (): void => { child.stdin!.destroy() }
    process.once('exit', onExit)
    return {
      url: `postgres://${USER}@127.0.0.1:${port}/${DATABASE}`,
      host: '127.0.0.1',
      port,
      user: USER,
      database: DATABASE,
      stop: async () => {
        process.removeListener('exit', onExit)
        await stopChild(child)
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw new Error(`postgres did not start: ${lastError}`)
}

/** true once postgres accepts connections; the log when it exited first. */
function waitReady (child: ChildProcess): Promise<true | string> {
  return new Promise((resolve) => {
    let log = ''
    const timer = setTimeout(() => { child.stdin!.end(); resolve('timed out:\n' + log) }, 60_000)
    const onData = (chunk: Buffer): void => {
      log += chunk.toString('utf8')
      if (log.includes('database system is ready to accept connections')) {
        clearTimeout(timer)
        child.stderr!.removeListener('data', onData)
        child.removeListener('exit', onExit)
        resolve(true)
      }
    }
    const onExit = (code: number | null): void => {
      clearTimeout(timer)
      resolve(`exited with ${code}:\n${log}`)
    }
    child.stderr!.on('data', onData)
    child.on('exit', onExit)
  })
}

function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  child.ref()
  return new Promise((resolve) => {
    child.on('exit', () => resolve())
    child.stdin!.end()
  })
}
