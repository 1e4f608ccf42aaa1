// Live fragments: an element with data-live-url is replaced, every few seconds, by the HTML that URL
// renders (the same template the page included), so counters and tables follow work as it runs.
// Polling pauses while the tab is hidden and resumes, with an immediate refresh, when it shows again.
const EVERY_MS = 5000;

async function refresh(el) {
  try {
    const response = await fetch(el.dataset.liveUrl, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
    // signed out (redirected to the sign-in page) or refused: stop; a server error: try again
    if (response.redirected) return true;
    if (!response.ok) return response.status < 500;
    const html = await response.text();
    if (html !== el.dataset.liveHtml) {
      el.dataset.liveHtml = html;
      el.innerHTML = html;
      el.dispatchEvent(new CustomEvent('live:updated', { bubbles: true }));
    }
  } catch { /* offline for a moment: the next tick tries again */ }
  return false;
}

export function startLive(root = document) {
  const els = [...root.querySelectorAll('[data-live-url]')];
  if (!els.length) return;
  let timer = null;
  const stopped = new Set();
  const tick = async () => {
    timer = null;
    await Promise.all(els.filter((el) => !stopped.has(el)).map(async (el) => { if (await refresh(el)) stopped.add(el); }));
    if (!document.hidden && stopped.size < els.length) timer = setTimeout(tick, EVERY_MS);
  };
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) { clearTimeout(timer); timer = null; } else if (timer === null) tick();
  });
  timer = setTimeout(tick, EVERY_MS);
}
