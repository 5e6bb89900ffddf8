'use strict'
// Experiment: hello-world plus BUSY_US of pure CPU per request (what a given agent cost "should" add).
const http = require('node:http')
const { listen } = require('./common')

const busyNs = BigInt(Math.round(Number(process.env.BUSY_US ?? 0) * 1000))
listen(http.createServer((req, res) => {
  const end = process.hrtime.bigint() + busyNs
  while (process.hrtime.bigint() < end);
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.end('hello world')
}))
