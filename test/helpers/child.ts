// Run fixture apps in child processes (preload, ESM, exit and crash behaviour) and collect what they did.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

export const ROOT = join(__dirname, '..', '..')
export const FIXTURES = join(ROOT, 'test', 'fixtures')

export interface RunOptions {
  /** Extra node flags, e.g. ['-r', 'apm/start'] or ['--import', 'apm/start']. */
  nodeArgs?: string[]
  args?: string[]
  env?: Record<string, string | undefined>
  /** Kill the child after this long (the result then has timedOut: true). */
  timeoutMs?: number
  cwd?: string
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  durationMs: number
  timedOut: boolean
}

// The child's environment: the parent's, minus anything apm/OTel-related that could leak in, plus env.
function childEnv (env: RunOptions['env']): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('APM_') || k.startsWith('OTEL_') || k === 'NODE_OPTIONS' || k.startsWith('TAP')) continue
    out[k] = v
  }
  for (const [k, v] of Object.entries(env ?? {})) {
    if (v === undefined) delete out[k]
    else out[k] = v
  }
  return out
}

/** Spawn `node [nodeArgs] fixture [args]` from the repo root (so `apm/start` resolves) and wait for it to exit. */
export function runFixture (fixture: string, options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now()
  const child = spawnFixture(fixture, options)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (c) => { stdout += c })
  child.stderr!.on('data', (c) => { stderr += c })
  return new Promise((resolve) => {
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, options.timeoutMs ?? 30_000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, durationMs: Date.now() - started, timedOut })
    })
  })
}

export function spawnFixture (fixture: string, options: RunOptions = {}): ChildProcess {
  const file = fixture.startsWith('/') ? fixture : join(FIXTURES, fixture)
  return spawn(process.execPath, [...(options.nodeArgs ?? []), file, ...(options.args ?? [])], {
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe']
  })
}

/**
 * Start a long-running fixture that prints `LISTENING <port>` once ready; resolves with the child and port.
 * Stop it with child.kill() in t.teardown.
 */
export function startServerFixture (fixture: string, options: RunOptions = {}): Promise<{ child: ChildProcess, port: number, output: () => string }> {
  const child = spawnFixture(fixture, options)
  let out = ''
  child.stderr!.on('data', (c) => { out += c })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`fixture ${fixture} did not start: ${out}`)) }, options.timeoutMs ?? 15_000)
    child.stdout!.on('data', (c) => {
      out += c
      const m = /LISTENING (\d+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve({ child, port: Number(m[1]), output: () => out })
      }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`fixture ${fixture} exited with ${code}: ${out}`)) })
  })
}
