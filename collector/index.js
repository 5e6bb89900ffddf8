// @ts-check
// Programmatic API of the collector package (used by tests and the demo).
'use strict'

module.exports = { ...require('./lib/collector.js'), report: require('./lib/report.js').report }
