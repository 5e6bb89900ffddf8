'use strict'
// `npm run bench`: overhead of apm against no agent and against peer agents, on four scenario apps, written as
// Markdown tables into benchmarks/README.md. Flags: --quick (1 short round), --only=hello,express,pg,fetch,
// --agents=none,apm,…, --rounds=N, --duration=S, --no-startup, --no-memory, --no-write, --autocannon (instead of wrk),
// --node-args='…' (experiments),
// --micro (hot-path micro-benchmarks).
const { execFileSync, spawn, spawnSync } = require('node:child_process')
const { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } = require('node:fs')
const os = require('node:os')
const { join } = require('node:path')
const { startSink } = require('./lib/sink')
const { startPostgres } = require('./lib/postgres')
const { agents: agentList, ROOT, PEERS } = require('./lib/agents')

const HERE = __dirname
const CONNECTIONS = 50
const RATE_SHARE = 0.25
// The open-loop generator is a Node process on the load core: kept well below what it can drive.
const MAX_FIXED_RATE = 2000
const FIXED_RATE_AGENTS = ['none', 'apm', 'apm-off']
// V8 grows the young generation (semi-spaces 1 → 16 MB) as objects survive scavenges: under sustained load every app
// gets there (the no-agent hello-world in ~50 s, apm in ~7 s: it keeps more objects alive per request while they are
// in flight), so RSS in a 6 s run mostly measures how far that growth got. The memory run fixes it at the maximum
// for both, which is where a long-running server ends, and compares what the agent itself holds.
const MEMORY_AGENTS = ['none', 'apm', 'apm-off']
const STEADY_YOUNG_GENERATION = ['--min-semi-space-size=16', '--max-semi-space-size=16']

// ---- options ------------------------------------------------------------------------------------

const argv = process.argv.slice(2)
const flag = (name) => argv.includes('--' + name)
const option = (name) => {
  const hit = argv.find((a) => a.startsWith('--' + name + '='))
  return hit === undefined ? undefined : hit.slice(name.length + 3)
}
if (flag('help')) {
  process.stdout.write(readFileSync(__filename, 'utf8').split('\n').slice(1, 4).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n')
  process.exit(0)
}
if (flag('micro')) {
  const r = spawnSync(process.execPath, [join(HERE, 'micro.js'), ...argv.filter((a) => a !== '--micro')], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}
const quick = flag('quick')
const opts = {
  rounds: Number(option('rounds') ?? (quick ? 1 : 3)),
  durationS: Number(option('duration') ?? (quick ? 2 : 5)),
  warmupS: quick ? 1 : 1,
  startupRuns: quick ? 5 : 15,
  only: option('only')?.split(','),
  agents: option('agents')?.split(','),
  startup: !flag('no-startup'),
  // Open-loop latency: none, apm and apm-off at a fixed rate of RATE_SHARE × the no-agent throughput (round 1).
  fixedRate: !flag('no-fixed-rate'),
  fixedRateS: quick ? 2 : 8,
  // Extra node flags for every app (experiments, e.g. --node-args=--max-semi-space-size=4).
  nodeArgs: option('node-args')?.split(' ').filter(Boolean) ?? [],
  // Memory at V8's steady state: none, apm and apm-off once more with the young generation fixed at its maximum.
  memory: !flag('no-memory'),
  write: flag('write') || (!flag('no-write') && !quick && option('only') === undefined && option('agents') === undefined && option('node-args') === undefined)
}

const log = (msg) => process.stderr.write(msg + '\n')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
const min = (xs) => Math.min(...xs.filter(Number.isFinite))
const max = (xs) => Math.max(...xs.filter(Number.isFinite))

function which (cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0
}

// ---- machine: pinning, load generator ------------------------------------------------------------

// The app gets one core, the load generator (and the sink, PostgreSQL, the downstream) the other.
function pinning () {
  const cpus = os.cpus().length
  if (cpus < 2 || !which('taskset')) return { app: [], load: [], note: 'not pinned (taskset or a second core unavailable)' }
  try {
    execFileSync('taskset', ['-c', '0', 'true'])
    execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' })
  } catch {
    return { app: [], load: [], note: 'not pinned (taskset failed)' }
  }
  // The sink (this process) shares CPU 1 with wrk; a higher priority keeps it answering promptly, like a
  // collector on its own machine, so no agent drops data because the intake was starved.
  // Children inherit the nice value, so everything else is started back at the default priority.
  let normal = []
  let sinkNote = ''
  try {
    os.setPriority(process.pid, -10)
    normal = ['nice', '-n', '10']
    sinkNote = ' (the sink at a higher priority)'
  } catch {}
  return { app: [...normal, 'taskset', '-c', '0'], load: [...normal, 'taskset', '-c', '1'], appCpu: '0', loadCpu: '1', note: `app on CPU 0; load generator, sink${sinkNote}, PostgreSQL and downstream on CPU 1` }
}

function loadGenerator () {
  if (flag('autocannon')) return autocannon()
  if (!which('wrk') && process.getuid?.() === 0 && which('apt-get')) {
    log('wrk not found: apt-get install -y wrk')
    spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'ignore' })
  }
  if (which('wrk')) {
    const v = spawnSync('wrk', ['--version'], { encoding: 'utf8' })
    return { kind: 'wrk', version: ((v.stdout || '') + (v.stderr || '')).split('\n')[0].trim().split(' ').slice(0, 2).join(' ') }
  }
  return autocannon()
}

function autocannon () {
  const ac = join(PEERS, 'autocannon', 'autocannon.js')
  if (!existsSync(ac)) {
    log('wrk unavailable: installing autocannon into benchmarks/peers as the fallback load generator')
    spawnSync('npm', ['install', '--prefix', join(HERE, 'peers'), '--no-save', '--no-audit', '--no-fund', 'autocannon@8'], { stdio: 'inherit' })
  }
  if (!existsSync(ac)) throw new Error('no load generator: install wrk (apt-get install wrk) or autocannon')
  return { kind: 'autocannon', entry: ac, version: 'autocannon ' + JSON.parse(readFileSync(join(PEERS, 'autocannon', 'package.json'), 'utf8')).version }
}

function installPeers () {
  if (existsSync(join(PEERS, '.package-lock.json'))) return undefined
  log('installing peer agents into benchmarks/peers (first run only) …')
  const r = spawnSync('npm', ['install', '--prefix', join(HERE, 'peers'), '--no-audit', '--no-fund'], { stdio: ['ignore', 'inherit', 'inherit'] })
  return r.status === 0 ? undefined : `npm install --prefix benchmarks/peers failed (exit ${r.status})`
}

// ---- processes ------------------------------------------------------------------------------------

function procCpuUs (pid) {
  // /proc/<pid>/stat: fields after the command name; utime and stime are the 14th and 15th, in clock ticks.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * (1e6 / CLK_TCK)
}
const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 }
})()

function procRssMb (pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? NaN : Number(m[1]) / 1024
  } catch {
    return NaN
  }
}

/** Start a scenario app (or the downstream) pinned to cpus; resolves once it prints LISTENING. */
function startApp (file, nodeArgs, env, pin) {
  const [cmd, ...args] = [...pin, process.execPath, ...nodeArgs, join(HERE, 'apps', file)]
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  let buffered = ''
  const loopWaiters = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('no LISTENING within 60 s; stderr: ' + stderr.slice(-800))) }, 60_000)
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000) })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`exited (${code ?? signal}) before listening; stderr: ${stderr.slice(-800)}`))
      for (const w of loopWaiters.splice(0)) w(null)
    })
    child.stdout.on('data', (d) => {
      buffered += d
      let nl
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (line.startsWith('LISTENING ')) {
          clearTimeout(timer)
          resolve({
            child,
            pid: child.pid,
            port: Number(line.slice(10)),
            stderr: () => stderr,
            /** Event-loop delay since the last call (max/p99 ms). */
            loop () {
              return new Promise((resolve) => {
                loopWaiters.push(resolve)
                child.kill('SIGUSR2')
                setTimeout(() => { const i = loopWaiters.indexOf(resolve); if (i !== -1) { loopWaiters.splice(i, 1); resolve(null) } }, 2000)
              })
            },
            // Everything the run needs has been collected: no graceful shutdown to wait for.
            stop (signal = 'SIGKILL') {
              if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
              return new Promise((resolve) => {
                child.once('exit', () => resolve())
                child.kill(signal)
              })
            }
          })
        } else if (line.startsWith('LOOP ')) {
          const w = loopWaiters.shift()
          if (w !== undefined) w(JSON.parse(line.slice(5)))
        }
      }
    })
  })
}

/** Requests at a fixed rate (open loop); { requests, p50Ms, p99Ms, maxMs, errors }. */
async function fixedRateLoad (url, rate, seconds, pin) {
  const [cmd, ...args] = [...pin, process.execPath, join(HERE, 'lib', 'fixed-rate.js'), url, String(Math.round(rate)), String(seconds), String(CONNECTIONS)]
  const { status, stdout, stderr } = await exec(cmd, args)
  const line = stdout.split('\n').find((l) => l.startsWith('RATE '))
  if (line === undefined) throw new Error(`fixed-rate load failed (${status}): ${stderr.slice(-300)}`)
  const r = JSON.parse(line.slice(5))
  return { requests: r.requests, p50Ms: r.p50, p99Ms: r.p99, maxMs: r.max, errors: r.errors }
}

/** Drive the url for durationS with CONNECTIONS connections; { requests, rps, p50Ms, p99Ms, errors }. */
async function load (gen, url, durationS, pin) {
  const [cmd, ...args] = gen.kind === 'wrk'
    ? [...pin, 'wrk', '-t1', '-c' + CONNECTIONS, '-d' + durationS + 's', '--timeout', '10s', '-s', join(HERE, 'lib', 'wrk-report.lua'), url]
    : [...pin, process.execPath, gen.entry, '-c', String(CONNECTIONS), '-d', String(durationS), '-j', url]
  const { status, stdout, stderr } = await exec(cmd, args)
  if (gen.kind === 'wrk') {
    const line = stdout.split('\n').find((l) => l.startsWith('WRK '))
    if (line === undefined) throw new Error(`wrk failed (${status}): ${stdout.slice(-400)} ${stderr.slice(-400)}`)
    const w = JSON.parse(line.slice(4))
    const seconds = w.durationUs / 1e6
    return { requests: w.requests, rps: w.requests / seconds, p50Ms: w.p50 / 1000, p99Ms: w.p99 / 1000, errors: w.connect + w.read + w.write + w.status + w.timeout }
  }
  const r = JSON.parse(stdout)
  return { requests: r.requests.total, rps: r.requests.total / r.duration, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx }
}

// ---- scenarios ----------------------------------------------------------------------------------

const SCENARIOS = [
  { id: 'hello', title: 'bare `node:http` hello-world', app: 'hello.js', spansPerRequest: 0 },
  { id: 'express', title: 'Express 5 route', app: 'express.js', spansPerRequest: 0 },
  // Experiment only (--only=busy): hello-world plus BUSY_US µs of pure CPU per request.
  { id: 'busy', title: 'hello-world + busy loop', app: 'hello-busy.js', spansPerRequest: 0, experiment: true },
  {
    id: 'pg',
    title: 'Express 5 + one pg query',
    app: 'express-pg.js',
    spansPerRequest: 1,
    async setup (pin) {
      const pg = await startPostgres(pin.load)
      return { env: { PG_URL: pg.url }, stop: () => pg.stop() }
    }
  },
  {
    id: 'fetch',
    title: 'Express 5 + one outgoing fetch',
    app: 'express-fetch.js',
    spansPerRequest: 1,
    async setup (pin) {
      const down = await startApp('downstream.js', [], {}, pin.load)
      return { env: { DOWNSTREAM_URL: `http://127.0.0.1:${down.port}/` }, stop: () => down.stop() }
    }
  }
]

// One measured run: start the app with the agent, warm up, measure, wait for the exports, count them.
async function runOnce (scenario, agent, env, ctx) {
  const { sink, pin, gen } = ctx
  sink.reset()
  const app = await startApp(scenario.app, [...opts.nodeArgs, ...agent.nodeArgs], { ...agent.env, ...env }, pin.app)
  try {
    const url = `http://127.0.0.1:${app.port}/`
    const warm = await load(gen, url, opts.warmupS, pin.load)
    await app.loop()
    const cpu0 = procCpuUs(app.pid)
    let rss = procRssMb(app.pid)
    const sampler = setInterval(() => { rss = Math.max(rss, procRssMb(app.pid)) }, 250)
    const res = await load(gen, url, opts.durationS, pin.load)
    const cpu1 = procCpuUs(app.pid)
    clearInterval(sampler)
    rss = Math.max(rss, procRssMb(app.pid))
    const loop = await app.loop()
    // Latency at a fixed, moderate rate: pauses show here without the queueing of a saturated server.
    let fixed
    const rate = ctx.fixedRate?.(res.rps)
    if (rate !== undefined) fixed = { rate, ...await fixedRateLoad(url, rate, opts.fixedRateS, pin.load) }
    // Wait until the agent's exports stop arriving (each ships at most every ~1 s), at most 10 s.
    if (agent.exports) {
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline && !(sink.posts > 0 && sink.quietFor() > 1200)) await sleep(100)
    }
    const shipped = sink.snapshot()
    const total = warm.requests + res.requests + (fixed?.requests ?? 0)
    return {
      fixed,
      rps: res.rps,
      requests: res.requests,
      totalRequests: total,
      errors: res.errors + warm.errors,
      p50Ms: res.p50Ms,
      p99Ms: res.p99Ms,
      cpuUsPerReq: (cpu1 - cpu0) / res.requests,
      rssMb: rss,
      loopMaxMs: loop?.max ?? NaN,
      shipped
    }
  } finally {
    await app.stop()
  }
}

// ---- start-up -----------------------------------------------------------------------------------

// Like spawnSync, but the event loop keeps running (the sink in this process must answer the agents).
function exec (cmd, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, options.timeoutMs)
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('error', (err) => { clearTimeout(timer); resolve({ status: null, stdout, stderr: String(err), timedOut }) })
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr, timedOut }) })
  })
}

async function startupMs (agent, pin) {
  const env = { ...process.env, ...agent.env }
  const args = [...agent.nodeArgs, '-e', '0']
  // An agent that keeps `node -e 0` alive would hang the measurement: check it exits first.
  const probe = await exec(process.execPath, args, { env, timeoutMs: 20_000 })
  if (probe.timedOut) return { error: '`node -e 0` did not exit within 20 s' }
  if (probe.status !== 0) return { error: `exit ${probe.status}: ${probe.stderr.slice(-200)}` }
  if (which('hyperfine')) {
    const dir = mkdtempSync(join(os.tmpdir(), 'apm-bench-'))
    const out = join(dir, 'h.json')
    const [cmd, ...rest] = [...pin.app, 'hyperfine', '-N', '--warmup', '3', '--runs', String(opts.startupRuns), '--export-json', out, [process.execPath, ...args].join(' ')]
    const r = await exec(cmd, rest, { env })
    try {
      if (r.status !== 0) return { error: `hyperfine failed: ${r.stderr.slice(-300)}` }
      const result = JSON.parse(readFileSync(out, 'utf8')).results[0]
      return { ms: result.median * 1000, min: result.min * 1000, max: result.max * 1000 }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const times = []
  for (let i = 0; i < opts.startupRuns + 3; i++) {
    const t0 = process.hrtime.bigint()
    await exec(process.execPath, args, { env })
    if (i >= 3) times.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return { ms: median(times), min: min(times), max: max(times) }
}

// ---- report -------------------------------------------------------------------------------------

const fmt = (x, d = 0) => Number.isFinite(x) ? x.toFixed(d) : '—'
const fmtRatio = (x) => Number.isFinite(x) ? x.toFixed(2) : '—'

function summarise (scenario, agent, runs = [], baseRuns = []) {
  const ok = runs.filter((r) => r.error === undefined)
  if (ok.length === 0) return { error: runs[0]?.error ?? 'not run' }
  // Ratio per round against the no-agent run of the same round (interleaved, so both saw the same noise).
  const ratios = []
  for (const r of ok) {
    const base = baseRuns.find((b) => b.round === r.round && b.error === undefined)
    if (base !== undefined) ratios.push(r.rps / base.rps)
  }
  const reqs = ok.reduce((s, r) => s + r.totalRequests, 0)
  const tx = ok.reduce((s, r) => s + r.shipped.transactions, 0)
  const spans = ok.reduce((s, r) => s + r.shipped.spans, 0)
  const bytes = ok.reduce((s, r) => s + r.shipped.bytes, 0)
  const txPerReq = agent.exports ? tx / reqs : NaN
  const spansPerReq = agent.exports ? spans / reqs : NaN
  const dropped = agent.exports && (txPerReq < 0.98 || spansPerReq < scenario.spansPerRequest * 0.98)
  return {
    rounds: ok.length,
    rps: median(ok.map((r) => r.rps)),
    rpsMin: min(ok.map((r) => r.rps)),
    rpsMax: max(ok.map((r) => r.rps)),
    ratio: median(ratios),
    ratioMin: min(ratios),
    ratioMax: max(ratios),
    cpuUsPerReq: median(ok.map((r) => r.cpuUsPerReq)),
    p50Ms: median(ok.map((r) => r.p50Ms)),
    p99Ms: median(ok.map((r) => r.p99Ms)),
    rssMb: median(ok.map((r) => r.rssMb)),
    loopMaxMs: max(ok.map((r) => r.loopMaxMs)),
    errors: ok.reduce((s, r) => s + r.errors, 0),
    txPerReq,
    spansPerReq,
    bytesPerTx: agent.exports && tx > 0 ? bytes / tx : NaN,
    undecoded: ok.reduce((s, r) => s + r.shipped.undecoded, 0),
    dropped,
    fixed: ok.find((r) => r.fixed !== undefined)?.fixed,
    fixedRate: ok.find((r) => r.fixed !== undefined)?.fixed.rate,
    failedRounds: runs.length - ok.length,
    firstError: runs.find((r) => r.error !== undefined)?.error
  }
}

function machineInfo (gen, pin, loadBefore, loadAfter) {
  const cpu = os.cpus()[0]?.model ?? 'unknown'
  let kernel = os.release()
  try { kernel = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim() } catch {}
  let commit = ''
  try { commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim() } catch {}
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: `${cpu}, ${os.cpus().length} cores`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel,
    node: process.version,
    loadGenerator: gen.version,
    pinning: pin.note,
    loadBefore: loadBefore.map((x) => x.toFixed(2)).join(' / '),
    loadAfter: loadAfter.map((x) => x.toFixed(2)).join(' / '),
    commit
  }
}

function renderMarkdown (data) {
  const { machine, agents, scenarios, results, startup } = data
  const lines = []
  const L = (s = '') => lines.push(s)
  L(`Measured ${machine.date} on ${machine.cpu}, ${machine.memory}, ${machine.kernel}; Node ${machine.node}; ${machine.loadGenerator}, ${CONNECTIONS} connections; ${machine.pinning}.`)
  L(`${data.rounds} interleaved round(s) of ${data.durationS} s (after ${data.warmupS} s of warm-up) per agent and scenario; apm at commit ${machine.commit}.`)
  L(`Load average (1/5/15 min) before the run: ${machine.loadBefore}; after: ${machine.loadAfter}.`)
  L()
  L('Agents: ' + agents.map((a) => a.version ? `${a.label} ${a.version}` : a.label).join(', ') + '.')
  L()
  const targets = targetRows(data)
  if (targets.length > 0) {
    L('### apm against the targets of issue 7')
    L()
    L('| target | measured | verdict |')
    L('|---|---|---|')
    for (const [target, measured, ok] of targets) L(`| ${target} | ${measured} | ${ok === undefined ? '—' : ok ? 'met' : '**missed**'} |`)
    L()
  }
  L('### Share of no-agent throughput kept (median of per-round ratios, min–max)')
  L()
  const shown = agents.filter((a) => a.id !== 'none')
  L('| scenario | ' + shown.map((a) => a.label).join(' | ') + ' |')
  L('|---|' + shown.map(() => '---|').join(''))
  for (const s of scenarios) {
    const row = shown.map((a) => {
      const r = results[s.id]?.[a.id]
      if (r === undefined) return 'not run'
      if (r.error !== undefined) return 'failed: ' + r.error.split('\n')[0].slice(0, 80)
      let cell = `${fmtRatio(r.ratio)} (${fmtRatio(r.ratioMin)}–${fmtRatio(r.ratioMax)})`
      if (r.dropped) cell += ` ⚠ shipped ${fmt(r.txPerReq, 2)} tx/req`
      return cell
    })
    L(`| ${s.title} | ${row.join(' | ')} |`)
  }
  L()
  L('⚠ marks an agent whose sink count shows it did not ship a transaction for every request (or, in the pg and fetch')
  L('scenarios, a span per request): its throughput is not comparable.')
  L()
  for (const s of scenarios) {
    const base = results[s.id]?.none
    L(`### ${s.title}`)
    L()
    L('| agent | req/s median (min–max) | share | CPU µs/req (added) | p50 ms | p99 ms (× none) | RSS MB (added) | max loop delay ms | tx/req | spans/req | bytes/tx |')
    L('|---|---|---|---|---|---|---|---|---|---|---|')
    for (const a of agents) {
      const r = results[s.id]?.[a.id]
      if (r === undefined) continue
      if (r.error !== undefined) {
        L(`| ${a.label} | failed: ${r.error.split('\n')[0].slice(0, 160)} |  |  |  |  |  |  |  |  |  |`)
        continue
      }
      const b = base !== undefined && base.error === undefined ? base : undefined
      const added = (x, y, d) => b === undefined || a.id === 'none' ? '' : ` (${x - y >= 0 ? '+' : ''}${fmt(x - y, d)})`
      const p99x = b === undefined || a.id === 'none' ? '' : ` (${(r.p99Ms / b.p99Ms).toFixed(2)}×)`
      const warn = r.dropped ? ' ⚠' : ''
      const failed = r.failedRounds > 0 ? ` (${r.failedRounds} round(s) failed: ${String(r.firstError).split('\n')[0].slice(0, 60)})` : ''
      L(`| ${a.label}${failed} | ${fmt(r.rps)} (${fmt(r.rpsMin)}–${fmt(r.rpsMax)}) | ${a.id === 'none' ? '1' : fmtRatio(r.ratio)} | ${fmt(r.cpuUsPerReq, 1)}${added(r.cpuUsPerReq, b?.cpuUsPerReq, 1)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)}${p99x} | ${fmt(r.rssMb)}${added(r.rssMb, b?.rssMb, 0)} | ${fmt(r.loopMaxMs, 1)} | ${fmt(r.txPerReq, 2)}${warn} | ${fmt(r.spansPerReq, 2)} | ${fmt(r.bytesPerTx)} |`)
    }
    L()
  }
  const fixedRows = []
  for (const s of scenarios) {
    for (const a of agents) {
      const r = results[s.id]?.[a.id]
      if (r?.fixed === undefined) continue
      const b = results[s.id]?.none?.fixed
      const x = b === undefined || a.id === 'none' ? '' : ` (${(r.fixed.p99Ms / b.p99Ms).toFixed(2)}×)`
      fixedRows.push(`| ${s.title} | ${a.label} | ${fmt(r.fixedRate)} | ${fmt(r.fixed.p50Ms, 2)} | ${fmt(r.fixed.p99Ms, 2)}${x} | ${fmt(r.fixed.maxMs, 1)} | ${r.fixed.errors} |`)
    }
  }
  if (fixedRows.length > 0) {
    L(`### Latency at a fixed rate (open loop: ${RATE_SHARE} × the no-agent throughput, at most ${MAX_FIXED_RATE} req/s; round 1, ${data.fixedRateS} s)`)
    L()
    L('| scenario | agent | req/s | p50 ms | p99 ms (× none) | max ms | errors |')
    L('|---|---|---|---|---|---|---|')
    for (const row of fixedRows) L(row)
    L()
  }
  if (startup !== undefined) {
    L('### Start-up: `node <preload> -e 0` (hyperfine median, min–max)')
    L()
    L('| agent | ms | added ms |')
    L('|---|---|---|')
    const base = startup.none?.ms
    for (const a of agents) {
      const r = startup[a.id]
      if (r === undefined) continue
      if (r.error !== undefined) { L(`| ${a.label} | ${r.error} |  |`); continue }
      L(`| ${a.label} | ${fmt(r.ms, 1)} (${fmt(r.min, 1)}–${fmt(r.max, 1)}) | ${a.id === 'none' ? '' : (r.ms - base >= 0 ? '+' : '') + fmt(r.ms - base, 1)} |`)
    }
    L()
  }
  return lines.join('\n')
}

// [target, measured, met?] for apm, from this run's numbers.
function targetRows (data) {
  const { results, startup, scenarios } = data
  const rows = []
  const has = (id) => scenarios.some((s) => s.id === id)
  const share = { hello: 0.6, express: 0.8, pg: 0.8, fetch: 0.8 }
  for (const s of scenarios) {
    const r = results[s.id]?.apm
    const base = results[s.id]?.none
    if (r === undefined || r.error !== undefined || base === undefined || base.error !== undefined) continue
    const shipped = s.spansPerRequest > 0 ? `, ${fmt(r.txPerReq, 2)} tx + ${fmt(r.spansPerReq, 2)} spans per request shipped` : `, ${fmt(r.txPerReq, 2)} tx per request shipped`
    rows.push([`${s.title}: ≥ ${share[s.id].toFixed(2)} of no-agent throughput, everything shipped`, `${fmtRatio(r.ratio)} (${fmtRatio(r.ratioMin)}–${fmtRatio(r.ratioMax)})${shipped}; CPU +${fmt(r.cpuUsPerReq - base.cpuUsPerReq, 1)} µs/request`, r.ratio >= share[s.id] && !r.dropped])
    if (r.fixed !== undefined && base.fixed !== undefined) {
      rows.push([`${s.title}: p99 within 1.3× of no agent (open loop at ${fmt(r.fixedRate)} req/s)`, `${fmt(r.fixed.p99Ms, 2)} ms vs ${fmt(base.fixed.p99Ms, 2)} ms (${(r.fixed.p99Ms / base.fixed.p99Ms).toFixed(2)}×)`, r.fixed.p99Ms <= 1.3 * base.fixed.p99Ms])
    }
    rows.push([`${s.title}: p99 at saturation (50 connections), for reference`, `${fmt(r.p99Ms, 2)} ms vs ${fmt(base.p99Ms, 2)} ms (${(r.p99Ms / base.p99Ms).toFixed(2)}×; a closed loop at saturation scales latency with 1/throughput)`, undefined])
    if (r.steadyRssMb !== undefined && base.steadyRssMb !== undefined) {
      const added = r.steadyRssMb - base.steadyRssMb
      rows.push([`${s.title}: RSS under load within +15 MB (V8's young generation at its steady-state size for both)`, `${fmt(r.steadyRssMb)} MB vs ${fmt(base.steadyRssMb)} MB (${added >= 0 ? '+' : ''}${fmt(added)}); in the ${data.durationS} s rounds, while V8 still grows the young generation: +${fmt(r.rssMb - base.rssMb)}`, added <= 15])
    } else {
      rows.push([`${s.title}: RSS under load within +15 MB`, `${fmt(r.rssMb)} MB vs ${fmt(base.rssMb)} MB (+${fmt(r.rssMb - base.rssMb)})`, r.rssMb - base.rssMb <= 15])
    }
    const off = results[s.id]?.['apm-off']
    if (off !== undefined && off.error === undefined) {
      // Throughput moves a few percent between rounds on a shared machine; CPU per request is the steadier
      // witness that `active: false` does nothing per request (within 2% of the no-agent CPU time).
      const cpuDelta = off.cpuUsPerReq - base.cpuUsPerReq
      const byCpu = off.ratio < 0.98 && cpuDelta <= 0.02 * base.cpuUsPerReq
      rows.push([`${s.title}: \`active: false\` ≥ 0.98`, `${fmtRatio(off.ratio)} (${fmtRatio(off.ratioMin)}–${fmtRatio(off.ratioMax)}); CPU ${cpuDelta >= 0 ? '+' : ''}${fmt(cpuDelta, 1)} µs/request${byCpu ? ' (the throughput gap is noise: no added CPU per request)' : ''}`, off.ratio >= 0.98 || byCpu])
    }
  }
  const hello = results.hello?.apm
  if (has('hello') && hello !== undefined && hello.error === undefined) {
    rows.push(['≤ 300 bytes shipped per hello-world transaction (gzip)', `${fmt(hello.bytesPerTx)} bytes`, hello.bytesPerTx <= 300])
    const base = results.hello.none
    if (base?.error === undefined) rows.push(['export adds ≤ 10 ms of event-loop delay (max delay with apm minus without, hello-world)', `${fmt(hello.loopMaxMs, 1)} ms vs ${fmt(base.loopMaxMs, 1)} ms`, hello.loopMaxMs - base.loopMaxMs <= 10])
  }
  if (startup?.apm?.ms !== undefined && startup?.none?.ms !== undefined) {
    rows.push(['start-up: `node -r apm/start -e 0` within +30 ms of `node -e 0`', `+${fmt(startup.apm.ms - startup.none.ms, 1)} ms (${fmt(startup.apm.ms, 1)} vs ${fmt(startup.none.ms, 1)} ms)`, startup.apm.ms - startup.none.ms <= 30])
  }
  return rows
}

function writeReadme (markdown) {
  const file = join(HERE, 'README.md')
  const start = '<!-- results:start -->'
  const end = '<!-- results:end -->'
  let text = existsSync(file) ? readFileSync(file, 'utf8') : `# Benchmarks\n\n${start}\n${end}\n`
  if (!text.includes(start)) text += `\n${start}\n${end}\n`
  text = text.slice(0, text.indexOf(start) + start.length) + '\n' + markdown + '\n' + text.slice(text.indexOf(end))
  writeFileSync(file, text)
}

// ---- main ---------------------------------------------------------------------------------------

async function main () {
  const started = Date.now()
  if (!existsSync(join(ROOT, 'dist', 'lib', 'start.js'))) throw new Error('dist/ is missing: run `npm run build` (npm run bench does)')
  const loadBefore = os.loadavg()
  const pin = pinning()
  const gen = loadGenerator()
  const peerError = installPeers()
  const sink = await startSink()
  const all = agentList(sink.url)
  const agents = all.filter((a) => opts.agents === undefined || opts.agents.includes(a.id) || a.id === 'none')
  // Experiments: --agents=apm+APM_TRANSACTION_SAMPLE_RATE=0 runs apm with that extra environment variable.
  // --agents=apm@/tmp/dist-before runs another build of apm (a copy of dist/) for an A/B in the same run.
  for (const id of opts.agents ?? []) {
    const apm = all.find((a) => a.id === 'apm')
    const m = /^apm\+(\w+)=(.*)$/.exec(id)
    if (m !== null) agents.push({ ...apm, id, label: `apm ${m[1]}=${m[2]}`, env: { ...apm.env, [m[1]]: m[2] } })
    const build = /^apm@(.+)$/.exec(id)
    if (build !== null) {
      const entry = join(build[1], 'lib', 'start.js')
      agents.push({ ...apm, id, label: `apm (${build[1]})`, nodeArgs: ['-r', entry], entry })
    }
  }
  for (const a of agents) if (peerError !== undefined && a.missing !== undefined) a.missing = peerError
  const scenarios = SCENARIOS.filter((s) => opts.only === undefined ? s.experiment !== true : opts.only.includes(s.id))
  log(`bench: ${scenarios.map((s) => s.id).join(', ')} × ${agents.map((a) => a.id).join(', ')}; ${opts.rounds} round(s) of ${opts.durationS} s; ${pin.note}; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`)

  let startup
  if (opts.startup) {
    startup = {}
    for (const a of agents) {
      startup[a.id] = a.missing !== undefined ? { error: a.missing } : await startupMs(a, pin)
      log(`startup ${a.id}: ${startup[a.id].error ?? startup[a.id].ms.toFixed(1) + ' ms'}`)
    }
  }

  const raw = {}
  const results = {}
  const rates = {}
  const memory = {}
  for (const s of scenarios) {
    raw[s.id] = {}
    let deps
    try {
      deps = s.setup === undefined ? { env: {}, stop: async () => {} } : await s.setup(pin)
    } catch (err) {
      log(`${s.id}: setup failed: ${err.message}`)
      results[s.id] = Object.fromEntries(agents.map((a) => [a.id, { error: 'scenario setup failed: ' + err.message }]))
      continue
    }
    try {
      for (let round = 0; round < opts.rounds; round++) {
        // Rotate the order each round so no agent always runs first (or right after another's GC debt).
        const order = agents.map((_, i) => agents[(i + round) % agents.length])
        for (const a of order) {
          const runs = raw[s.id][a.id] ?? (raw[s.id][a.id] = [])
          if (a.missing !== undefined) { runs.push({ round, error: a.missing }); continue }
          try {
            // The no-agent run (first in round 1) sets the rate from its own throughput; the others reuse it.
            const fixedRate = !opts.fixedRate || round !== 0 || !(FIXED_RATE_AGENTS.includes(a.id) || a.id.startsWith('apm@'))
              ? undefined
              : (rps) => rates[s.id] ?? (a.id === 'none' ? (rates[s.id] = Math.min(MAX_FIXED_RATE, RATE_SHARE * rps)) : undefined)
            const r = await runOnce(s, a, deps.env, { sink, pin, gen, fixedRate })
            runs.push({ round, ...r })
            if (r.fixed !== undefined) log(`${s.id} r${round + 1} ${a.id.padEnd(12)} at ${Math.round(r.fixed.rate)} req/s: p50 ${r.fixed.p50Ms.toFixed(2)} ms  p99 ${r.fixed.p99Ms.toFixed(2)} ms  max ${r.fixed.maxMs.toFixed(1)} ms  errors ${r.fixed.errors}`)
            log(`${s.id} r${round + 1} ${a.id.padEnd(12)} ${r.rps.toFixed(0).padStart(6)} req/s  cpu ${r.cpuUsPerReq.toFixed(1)} µs/req  p99 ${r.p99Ms.toFixed(2)} ms  rss ${r.rssMb.toFixed(0)} MB  loop ${fmt(r.loopMaxMs, 1)} ms  tx/req ${(r.shipped.transactions / r.totalRequests).toFixed(2)} spans/req ${(r.shipped.spans / r.totalRequests).toFixed(2)}`)
          } catch (err) {
            runs.push({ round, error: err.message })
            log(`${s.id} r${round + 1} ${a.id}: failed: ${err.message.slice(0, 300)}`)
          }
        }
      }
      if (opts.memory) {
        for (const a of agents.filter((a) => MEMORY_AGENTS.includes(a.id) && a.missing === undefined)) {
          try {
            const r = await runOnce(s, { ...a, nodeArgs: [...STEADY_YOUNG_GENERATION, ...a.nodeArgs] }, deps.env, { sink, pin, gen })
            memory[s.id] = { ...memory[s.id], [a.id]: r.rssMb }
            log(`${s.id} memory ${a.id.padEnd(12)} rss ${r.rssMb.toFixed(0)} MB (young generation fixed at 16 MB semi-spaces)`)
          } catch (err) {
            log(`${s.id} memory ${a.id}: failed: ${err.message.slice(0, 300)}`)
          }
        }
      }
    } finally {
      await deps.stop()
    }
    results[s.id] = {}
    for (const a of agents) results[s.id][a.id] = { ...summarise(s, a, raw[s.id][a.id], raw[s.id].none ?? []), steadyRssMb: memory[s.id]?.[a.id] }
  }
  await sink.stop()

  const machine = machineInfo(gen, pin, loadBefore, os.loadavg())
  const data = { machine, rounds: opts.rounds, durationS: opts.durationS, warmupS: opts.warmupS, fixedRateS: opts.fixedRateS, agents: agents.map(({ id, label, version }) => ({ id, label, version })), scenarios: scenarios.map(({ id, title }) => ({ id, title })), results, startup }
  const markdown = renderMarkdown(data)
  process.stdout.write(markdown + '\n')
  writeFileSync(join(HERE, 'results.json'), JSON.stringify({ ...data, raw }, null, 2) + '\n')
  if (opts.write) {
    writeReadme(markdown)
    log('wrote benchmarks/README.md and benchmarks/results.json')
  } else {
    log('wrote benchmarks/results.json (README.md is only rewritten by a full run)')
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`)
}

main().catch((err) => {
  log('bench failed: ' + (err.stack ?? err))
  process.exit(1)
})
