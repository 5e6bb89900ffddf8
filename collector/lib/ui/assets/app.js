// Dashboard enhancements (optional: every page works without JavaScript).
// Shows times in the viewer's local time zone, reloads the page every 10 s in live mode (?refresh=1) and
// opens the span details a waterfall row links to.
'use strict'
for (const el of document.querySelectorAll('time[datetime]')) {
  const d = new Date(el.getAttribute('datetime'))
  if (!Number.isNaN(d.getTime())) {
    el.title = el.textContent
    el.textContent = d.toLocaleString()
  }
}
if (new URLSearchParams(location.search).get('refresh') === '1') setTimeout(() => location.reload(), 10000)

function openTarget () {
  const el = location.hash && document.getElementById(location.hash.slice(1))
  if (el && el.tagName === 'DETAILS') el.open = true
}
addEventListener('hashchange', openTarget)
openTarget()
