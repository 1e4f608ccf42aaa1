// Dashboard helpers: live job progress from the job API, live fragments, and charts from page data.
import { startLive } from './live.js';

async function pollJobs() {
  const rows = [...document.querySelectorAll('tr[data-job]')]
    .filter((row) => ['queued', 'running'].includes(row.dataset.status));
  if (!rows.length) return;
  await Promise.all(rows.map(async (row) => {
    try {
      const response = await fetch(`/api/jobs/${row.dataset.job}/`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!response.ok) return;
      const job = await response.json();
      row.dataset.status = job.status;
      row.querySelector('.job-status').textContent = job.status;
      row.querySelector('.job-progress').value = job.status === 'succeeded' ? 1 : job.fraction;
      row.querySelector('.job-message').textContent = job.error || job.message || '';
    } catch { /* the next poll tries again */ }
  }));
  setTimeout(pollJobs, 1500);
}

// the charting library is large: only pages that draw a chart load it
const charts = document.querySelectorAll('[data-chart]');
if (charts.length) {
  import('./charts.js').then(({ renderChart }) => {
    for (const el of charts) {
      const source = document.getElementById(el.dataset.source);
      if (source) renderChart(el, el.dataset.chart, JSON.parse(source.textContent));
    }
  });
}
pollJobs();
startLive();
