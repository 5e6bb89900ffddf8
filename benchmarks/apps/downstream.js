'use strict'
// The fetch scenario's downstream: a bare server, never instrumented.
const http = require('node:http')
const { listen } = require('./common')

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.end('downstream says hello')
})
server.keepAliveTimeout = 60_000
listen(server)
