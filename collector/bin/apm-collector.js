#!/usr/bin/env node
// @ts-check
// Entry point of the apm-collector command; see lib/cli.js.
'use strict'

require('../lib/cli.js').main(process.argv.slice(2)).then((code) => {
  if (code !== null) process.exitCode = code
}, (err) => {
  process.stderr.write(`apm-collector: ${err && err.stack}\n`)
  process.exitCode = 1
})
