// The disagreement queue: settle the current item by keyboard or button through the label API
// (PATCH /api/datasets/<name>/labels/<id>/), then move to the next one.
const queue = document.querySelector('.review-queue');
const status = document.getElementById('review-status');
const items = () => [...queue.querySelectorAll('.review-item')];

function select(item) {
  for (const el of items()) {
    el.classList.toggle('current', el === item);
    const video = el.querySelector('video');
    if (el === item) { video.play().catch(() => {}); } else { video.pause(); }
  }
  if (item) {
    item.focus({ preventScroll: true });
    item.scrollIntoView({ block: 'nearest' });
  }
}

function current() { return queue.querySelector('.review-item.current') || items()[0]; }

function move(step) {
  const all = items();
  const at = all.indexOf(current());
  const next = all[Math.min(all.length - 1, Math.max(0, at + step))];
  if (next) select(next);
}

async function settle(item, what) {
  if (!item || !status) return;  // a viewer's page has no controls (the API refuses them too)
  const reason = document.getElementById('review-reason').value.trim();
  const body = what === 'more'
    ? { more_answers: Number(document.getElementById('review-more').value), reason }
    : { state: what, reason };
  const response = await fetch(`/api/datasets/${encodeURIComponent(queue.dataset.dataset)}/labels/${item.dataset.label}/`, {
    method: 'PATCH', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': queue.dataset.csrf },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  const title = item.querySelector('h2').textContent.trim();
  if (!response.ok) {
    status.textContent = `${title}: ${data.detail || `error ${response.status}`}`;
    status.className = 'error';
    return;
  }
  status.textContent = what === 'more' ? `${title}: asked for ${body.more_answers} more answers`
    : `${title}: set to ${what}`;
  status.className = 'ok';
  const all = items();
  const next = all[all.indexOf(item) + 1] || all[all.indexOf(item) - 1];
  item.remove();
  if (next) select(next);
  else queue.insertAdjacentHTML('beforeend', '<li class="empty">Queue cleared: reload for the next items.</li>');
}

queue.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-do]');
  if (button) settle(button.closest('.review-item'), button.dataset.do);
});

document.addEventListener('keydown', (event) => {
  if (event.target.closest('.review-bar input') && (event.key === 'Escape' || event.key === 'Enter')) {
    event.preventDefault(); // back to the queue's keys
    event.target.blur();
    select(current());
    return;
  }
  if (event.target.closest('input, select, textarea') || event.ctrlKey || event.metaKey || event.altKey) return;
  const keys = { a: 'positive', r: 'negative', m: 'more' };
  if (keys[event.key]) { event.preventDefault(); settle(current(), keys[event.key]); }
  else if (event.key === 'j' || event.key === 'n') { event.preventDefault(); move(1); }
  else if (event.key === 'k') { event.preventDefault(); move(-1); }
});
