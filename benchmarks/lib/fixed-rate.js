'use strict'
// An open-loop load generator: requests at a fixed rate over keep-alive connections, latency measured from
// the moment each request was due (so a pause in the server shows in full, not hidden by the client waiting:
// no coordinated omission). Prints one line `RATE {"requests":n,"p50":ms,"p99":ms,"max":ms,"errors":n}`.
//   node fixed-rate.js <url> <requests/s> <seconds> [connections]
const http = require('node:http')

const [url, rateArg, secondsArg, connArg] = process.argv.slice(2)
const rate = Number(rateArg)
const seconds = Number(secondsArg)
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connArg ?? 50) })
const target = new URL(url)
const latencies = []
let errors = 0
let sent = 0
let done = 0

function fire (due) {
  const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, agent }, (res) => {
    res.resume()
    res.on('end', () => {
      latencies.push(Number(process.hrtime.bigint() - due) / 1e6)
      if (res.statusCode >= 400) errors++
      finish()
    })
  })
  req.on('error', () => { errors++; finish() })
  req.end()
}

function finish () {
  done++
  if (done === total) report()
}

const total = Math.round(rate * seconds)
const start = process.hrtime.bigint()
const intervalNs = 1e9 / rate
// Every millisecond, send whatever became due since the last tick (timers are too coarse for one per request).
const timer = setInterval(() => {
  const elapsed = Number(process.hrtime.bigint() - start)
  const due = Math.min(total, Math.floor(elapsed / intervalNs) + 1)
  while (sent < due) {
    fire(start + BigInt(Math.round(sent * intervalNs)))
    sent++
  }
  if (sent === total) clearInterval(timer)
}, 1)

// Whatever has not answered 10 s after the last request was due counts as an error.
setTimeout(() => { errors += total - done; report() }, seconds * 1000 + 10_000).unref()

let reported = false
function report () {
  if (reported) return
  reported = true
  latencies.sort((a, b) => a - b)
  const pct = (p) => latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]
  process.stdout.write('RATE ' + JSON.stringify({ requests: latencies.length, p50: pct(0.5), p99: pct(0.99), max: latencies[latencies.length - 1] ?? NaN, errors }) + '\n')
  process.exit(0)
}
