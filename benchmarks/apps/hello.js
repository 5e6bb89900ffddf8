'use strict'
// Bare node:http hello-world: the agent's fixed per-request cost shows here undiluted.
const http = require('node:http')
const { listen } = require('./common')

listen(http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.end('hello world')
}))
