'use strict'
// Shared by the scenario apps: listen on PORT (or a free port), print `LISTENING <port>`, and on SIGUSR2
// print the event-loop delay since the last SIGUSR2 (`LOOP {"max":ms,"p99":ms}`) — the same for every agent.
const { monitorEventLoopDelay } = require('node:perf_hooks')

const loop = monitorEventLoopDelay({ resolution: 10 })
loop.enable()
process.on('SIGUSR2', () => {
  process.stdout.write('LOOP ' + JSON.stringify({ max: loop.max / 1e6, p99: loop.percentile(99) / 1e6 }) + '\n')
  loop.reset()
})
// benchmarks/profile.js stops the app with SIGINT: exit normally so `--cpu-prof` writes its profile.
process.on('SIGINT', () => process.exit(0))

function listen (server) {
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    process.stdout.write(`LISTENING ${server.address().port}\n`)
  })
  return server
}

module.exports = { listen }
