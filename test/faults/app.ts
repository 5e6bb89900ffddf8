// Drive test/fixtures/fault-app.js: a real app in a child process that takes JSON commands on stdin.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { ROOT, FIXTURES } from '../helpers/child'
import type { AgentStats } from '../../lib/export/stats'

export interface Reply {
  id: number
  stats: AgentStats
  memory: { rss: number, heapUsed: number, arrayBuffers: number }
  load: { sent: number, ok: number, errors: string[], errorCount: number, maxLatencyMs: number }
  [key: string]: any
}

export interface App {
  child: ChildProcess
  /** Send a command; resolves with the app's reply (which always carries stats, memory and load). */
  send (cmd: string, args?: Record<string, unknown>): Promise<Reply>
  stderr (): string
  /** Resolves when the process ended. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

export function startApp (env: Record<string, string>, nodeArgs: string[] = []): Promise<App> {
  const childEnv: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('APM_') || k.startsWith('OTEL_') || k === 'NODE_OPTIONS' || k.startsWith('TAP')) continue
    childEnv[k] = v
  }
  const child = spawn(process.execPath, [...nodeArgs, join(FIXTURES, 'fault-app.js')], {
    cwd: ROOT,
    env: { ...childEnv, ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr!.on('data', (c) => { stderr += c })
  const pending = new Map<number, (r: Reply) => void>()
  let buffered = ''
  let nextId = 1
  child.stdout!.on('data', (c) => {
    buffered += c
    let nl
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      const reply = JSON.parse(line) as Reply
      pending.get(reply.id)?.(reply)
      pending.delete(reply.id)
    }
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      for (const [, reject] of pending) reject(undefined as unknown as Reply)
      resolve({ code, signal })
    })
  })
  const app: App = {
    child,
    stderr: () => stderr,
    exited,
    send (cmd, args = {}) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        pending.set(id, (r) => r === undefined ? reject(new Error(`app exited before answering ${cmd}: ${stderr}`)) : resolve(r))
        child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n')
      })
    }
  }
  return new Promise((resolve, reject) => {
    pending.set(0, () => resolve(app))
    child.on('close', () => reject(new Error(`app did not start: ${stderr}`)))
  })
}

/** produced == queued + inFlight + delivered + dropped, and the reasons add up to dropped. */
export function balanced (s: AgentStats): boolean {
  const reasons = Object.values(s.droppedByReason).reduce((a, b) => a + b, 0)
  return s.produced === s.queued + s.inFlight + s.delivered + s.dropped && reasons === s.dropped
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Poll the app until check(reply) holds or timeoutMs passes; resolves with the last reply. */
export async function until (app: App, check: (r: Reply) => boolean, timeoutMs: number, everyMs = 50): Promise<Reply> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const r = await app.send('stats')
    if (check(r) || Date.now() > deadline) return r
    await sleep(everyMs)
  }
}
