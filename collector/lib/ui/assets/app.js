// Dashboard enhancements (optional: every page works without JavaScript).
// Shows times in the viewer's local time zone, and reloads the page every 10 s in live mode (?refresh=1).
'use strict'
for (const el of document.querySelectorAll('time[datetime]')) {
  const d = new Date(el.getAttribute('datetime'))
  if (!Number.isNaN(d.getTime())) {
    el.title = el.textContent
    el.textContent = d.toLocaleString()
  }
}
if (new URLSearchParams(location.search).get('refresh') === '1') setTimeout(() => location.reload(), 10000)
