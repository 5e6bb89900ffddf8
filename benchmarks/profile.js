'use strict'
// Where does the agent's time go? Runs one scenario app under load with `node --cpu-prof` and prints the
// heaviest functions (self time) and the share of samples with an apm frame on the stack.
//   node benchmarks/profile.js [--scenario=hello] [--agent=apm|none|…] [--duration=8] [--top=40] [--interval=250]
//   node benchmarks/profile.js --file=x.cpuprofile [--requests=N]   (summarise a saved profile)
const { spawn } = require('node:child_process')
const { mkdtempSync, readdirSync, readFileSync, rmSync } = require('node:fs')
const os = require('node:os')
const { join } = require('node:path')
const { startSink } = require('./lib/sink')
const { agents } = require('./lib/agents')

const argv = process.argv.slice(2)
const option = (name, def) => argv.find((a) => a.startsWith('--' + name + '='))?.slice(name.length + 3) ?? def
const APPS = { hello: 'hello.js', express: 'express.js', pg: 'express-pg.js', fetch: 'express-fetch.js' }

/**
 * Summarise a .cpuprofile: self time per function, and busy time by owner — each sample belongs to the nearest
 * frame (from the leaf up) in apm's export path, apm's request path, the app or its dependencies; Node internals
 * and natives below it count for that owner; async_hooks frames are counted apart (the cost of context propagation).
 */
function summarise (profile, top, requests) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const counts = new Map()
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1)
  const total = profile.samples.length
  const self = new Map()
  const owners = new Map()
  let idle = 0
  const ownerOf = (id) => {
    let hooks = false
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur).callFrame
      if (f.url === 'node:async_hooks' || f.url === 'node:internal/async_hooks') hooks = true
      if (/\/dist\/lib\/export\//.test(f.url) || f.url.includes('/node_modules/undici/')) return 'apm: export (encode, gzip, send)'
      if (/\/dist\/(lib|instrumentations)\//.test(f.url)) return hooks ? 'async_hooks (context propagation)' : 'apm: request path'
      if (f.url.includes('/node_modules/') || f.url.includes('/benchmarks/apps/')) return hooks ? 'async_hooks (context propagation)' : 'app and its dependencies'
    }
    if (hooks) return 'async_hooks (context propagation)'
    return 'node core (no JS owner)'
  }
  for (const [id, count] of counts) {
    const f = byId.get(id).callFrame
    if (f.functionName === '(idle)') { idle += count; continue }
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '')}:${f.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + count)
    const owner = f.functionName === '(garbage collector)' ? 'garbage collector' : ownerOf(id)
    owners.set(owner, (owners.get(owner) ?? 0) + count)
  }
  const busy = total - idle
  const pct = (n) => (100 * n / busy).toFixed(2).padStart(6) + '%'
  // Sampled time per request (µs), when the request count is known: busy samples × mean sampling interval.
  const usPerSample = (profile.endTime - profile.startTime) / total
  const perReq = (n) => requests === undefined ? '' : `  ${(n * usPerSample / requests).toFixed(2).padStart(6)} µs/req`
  const lines = [`${total} samples (${(100 * idle / total).toFixed(1)}% idle)${requests === undefined ? '' : `, ${requests} requests: ${(busy * usPerSample / requests).toFixed(1)} µs/req busy`}; busy samples by owner:`]
  for (const [owner, count] of [...owners].sort((a, b) => b[1] - a[1])) lines.push(`${pct(count)}${perReq(count)}  ${owner}`)
  lines.push('', 'self time:')
  for (const [key, count] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(count)}${perReq(count)}  ${key}`)
  return lines.join('\n')
}

async function main () {
  const file = option('file')
  const top = Number(option('top', '40'))
  if (file !== undefined) {
    const requests = option('requests')
    process.stdout.write(summarise(JSON.parse(readFileSync(file, 'utf8')), top, requests === undefined ? undefined : Number(requests)) + '\n')
    return
  }
  const scenario = option('scenario', 'hello')
  const agentId = option('agent', 'apm')
  const duration = option('duration', '8')
  const sink = await startSink()
  // Dependencies of the pg and fetch scenarios run on the load generator's core, as in run.js.
  let deps = { env: {}, stop: async () => {} }
  if (scenario === 'pg') {
    const pg = await require('./lib/postgres').startPostgres(['taskset', '-c', '1'])
    deps = { env: { PG_URL: pg.url }, stop: () => pg.stop() }
  } else if (scenario === 'fetch') {
    const down = spawn('taskset', ['-c', '1', process.execPath, join(__dirname, 'apps', 'downstream.js')], { stdio: ['ignore', 'pipe', 'inherit'] })
    const port = await new Promise((resolve) => down.stdout.on('data', (d) => { const m = /LISTENING (\d+)/.exec(String(d)); if (m) resolve(m[1]) }))
    deps = { env: { DOWNSTREAM_URL: `http://127.0.0.1:${port}/` }, stop: async () => { down.kill() } }
  }
  const agent = agents(sink.url).find((a) => a.id === agentId)
  const dir = mkdtempSync(join(os.tmpdir(), 'apm-prof-'))
  const child = spawn('taskset', ['-c', '0', process.execPath, '--cpu-prof', '--cpu-prof-interval', option('interval', '250'), '--cpu-prof-dir', dir, ...agent.nodeArgs, join(__dirname, 'apps', APPS[scenario])], {
    env: { ...process.env, ...agent.env, ...deps.env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const port = await new Promise((resolve) => {
    child.stdout.on('data', (d) => { const m = /LISTENING (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])) })
  })
  const requests = await new Promise((resolve) => {
    const wrk = spawn('taskset', ['-c', '1', 'wrk', '-t1', '-c50', `-d${duration}s`, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    wrk.stdout.on('data', (d) => { out += d })
    wrk.on('exit', () => resolve(Number(/(\d+) requests in/.exec(out)?.[1])))
  })
  await new Promise((resolve) => setTimeout(resolve, 1500))
  // SIGINT lets node write the profile (the default SIGINT exit path does).
  await new Promise((resolve) => { child.on('exit', resolve); child.kill('SIGINT') })
  await sink.stop()
  await deps.stop()
  const prof = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (prof === undefined) throw new Error('no profile written')
  const keep = join(os.tmpdir(), `apm-${scenario}-${agentId}.cpuprofile`)
  require('node:fs').copyFileSync(join(dir, prof), keep)
  rmSync(dir, { recursive: true, force: true })
  process.stdout.write(`profile: ${keep} (--requests=${requests})\n` + summarise(JSON.parse(readFileSync(keep, 'utf8')), top, requests) + '\n')
}

main().catch((err) => { process.stderr.write(String(err.stack ?? err) + '\n'); process.exit(1) })
