// The Yes/No annotator page: one action across a set of clips, answered by mouse or keyboard.
import { api, pageParam, uuid4 } from '../lib/api.js';
import { showDefinition } from '../lib/definition.js';

const app = document.getElementById('app');
const grid = document.getElementById('grid');
const submitButton = document.getElementById('submit');
const banner = document.getElementById('banner');
const title = document.getElementById('task-title');
const definition = document.getElementById('task-definition');
const progressFill = document.getElementById('progress-fill');
const progressText = document.getElementById('progress-text');
const progress = document.querySelector('.progress');

const state = {
  set: null, answers: new Map(), shownAt: new Map(), durations: new Map(), current: 0,
  preview: false, submissionId: null, busy: false, soundOn: false,
};

const isPreview = () => pageParam('preview') === '1' || pageParam('assignmentId') === 'ASSIGNMENT_ID_NOT_AVAILABLE';
// Inside Mechanical Turk's frame one HIT is one set: no "Next set", and the HIT is submitted to
// MTurk (from this frame) only once the platform has accepted the answers.
const inMTurk = () => pageParam('assignmentId') !== null;
const RETURN_HIT = ' Please return this HIT on Mechanical Turk.';

function say(text, kind = 'info') {
  banner.textContent = text;
  banner.dataset.kind = kind;
  banner.hidden = !text;
}

function cards() {
  return [...grid.querySelectorAll('.card')];
}

function updateProgress() {
  const total = state.set ? state.set.items.length : 0;
  const done = state.answers.size;
  progressFill.style.width = total ? `${(100 * done) / total}%` : '0';
  progressText.textContent = `${done} / ${total}`;
  progress.setAttribute('aria-valuenow', String(done));
  progress.setAttribute('aria-valuemax', String(total));
  submitButton.disabled = state.preview || state.busy || !total || done < total;
}

function focusCard(index, { play = true } = {}) {
  const all = cards();
  if (!all.length) return;
  state.current = Math.max(0, Math.min(all.length - 1, index));
  all.forEach((card, i) => {
    const active = i === state.current;
    card.classList.toggle('current', active);
    const video = card.querySelector('video');
    if (video) video.muted = !(active && state.soundOn);
  });
  const card = all[state.current];
  card.focus({ preventScroll: true });
  card.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  const id = card.dataset.item;
  if (!state.shownAt.has(id)) state.shownAt.set(id, performance.now());
  const video = card.querySelector('video');
  if (play && video) video.play().catch(() => {});
}

function answer(index, value) {
  if (state.preview || state.busy) return;
  const card = cards()[index];
  if (!card) return;
  const id = card.dataset.item;
  state.answers.set(id, value);
  const started = state.shownAt.get(id) ?? performance.now();
  state.durations.set(id, Math.round(performance.now() - started));
  card.dataset.answer = value ? 'yes' : 'no';
  card.querySelector('.yes').setAttribute('aria-pressed', String(value));
  card.querySelector('.no').setAttribute('aria-pressed', String(!value));
  state.submissionId = null; // the answers changed: the next submit is a new submission
  updateProgress();
}

function replay(index) {
  const video = cards()[index]?.querySelector('video');
  if (video) { video.currentTime = 0; video.play().catch(() => {}); }
}

function render(set) {
  state.set = set;
  state.answers.clear(); state.shownAt.clear(); state.durations.clear();
  state.preview = Boolean(set.preview) || isPreview();
  state.submissionId = null;
  const name = set.action.display_name;
  // a function, not a string: in a replacement string `$&`, `$'` ... would be expanded, and an
  // action's name is the curator's free text
  title.textContent = set.question.replace('the action', () => `“${name}”`);
  showDefinition(definition, set.action);
  grid.replaceChildren();
  set.items.forEach((item, index) => {
    const card = document.createElement('article');
    card.className = 'card';
    card.tabIndex = -1;
    card.dataset.item = item.id;
    card.setAttribute('aria-label', `Clip ${index + 1} of ${set.items.length}`);
    let media;
    if (item.media_type === 'image') {
      media = document.createElement('img');
      media.alt = `Frame ${index + 1}`;
      media.src = item.media_url;
    } else {
      media = document.createElement('video');
      Object.assign(media, { src: item.media_url, loop: true, muted: true, autoplay: true, playsInline: true });
      media.preload = 'auto';
      media.setAttribute('aria-label', `Clip ${index + 1}`);
    }
    media.className = 'media';
    media.addEventListener('click', () => focusCard(index));
    const buttons = document.createElement('div');
    buttons.className = 'choices';
    for (const [cls, label, value] of [['yes', 'Yes', true], ['no', 'No', false]]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = cls;
      b.textContent = label;
      b.setAttribute('aria-pressed', 'false');
      b.setAttribute('aria-label', `${label}, clip ${index + 1}: ${name}`);
      b.disabled = state.preview;
      b.addEventListener('click', () => { focusCard(index, { play: false }); answer(index, value); });
      buttons.append(b);
    }
    const replayButton = document.createElement('button');
    replayButton.type = 'button';
    replayButton.className = 'replay';
    replayButton.textContent = '↺';
    replayButton.setAttribute('aria-label', `Replay clip ${index + 1}`);
    replayButton.addEventListener('click', () => replay(index));
    buttons.append(replayButton);
    card.append(media, buttons);
    grid.append(card);
  });
  if (state.preview) say('Preview: accept the task to answer these clips.', 'info');
  else say('');
  updateProgress();
  focusCard(0, { play: false });
}

async function load() {
  const dataset = app.dataset.dataset;
  state.busy = true;
  const { ok, data, status } = await api(`${app.dataset.api}${encodeURIComponent(dataset)}/sets/`, { method: 'POST' });
  state.busy = false;
  if (!ok) { say(data.detail || `Error ${status}`, 'error'); title.textContent = 'No task'; updateProgress(); return; }
  if (!data.set) {
    grid.replaceChildren();
    updateProgress();
    if (data.status === 'failed') { title.textContent = 'Set closed'; say(data.detail + (inMTurk() ? RETURN_HIT : ''), 'error'); return; }
    title.textContent = data.status === 'accepted' ? 'Answers accepted' : 'All done';
    say(data.detail, data.status === 'accepted' ? 'success' : 'info');
    if (data.external_submit) offerExternal(data.external_submit);
    return;
  }
  render(data.set);
}

function postExternal(target) {
  // MTurk: post the assignment form from inside the frame once the platform accepted the set.
  const form = document.getElementById('external-submit');
  form.action = target.url;
  form.replaceChildren();
  for (const [k, v] of Object.entries(target.fields)) {
    const input = document.createElement('input');
    input.type = 'hidden'; input.name = k; input.value = v;
    form.append(input);
  }
  form.submit();
}

function offerExternal(target) {
  // The set was accepted earlier but the HIT did not reach MTurk (e.g. the page was reloaded):
  // let the worker send it again; nothing has to be answered twice.
  submitButton.textContent = 'Submit HIT';
  submitButton.disabled = false;
  submitButton.onclick = () => { submitButton.disabled = true; postExternal(target); };
}

async function submit() {
  if (submitButton.disabled) return;
  state.busy = true; updateProgress();
  state.submissionId = state.submissionId || uuid4();
  const answers = state.set.items.map((item) => ({
    item: item.id, answer: state.answers.get(item.id), ms: state.durations.get(item.id) ?? null,
  }));
  let result;
  for (let tries = 0; tries < 3; tries += 1) {
    try {
      result = await api(`${app.dataset.api}sets/${state.set.id}/submit/`, {
        method: 'POST', body: { submission_id: state.submissionId, answers },
      });
      if (result.status < 500) break;
    } catch (err) { result = { status: 0, data: { detail: 'Network error; retrying…' } }; }
    await new Promise((r) => setTimeout(r, 500 * (tries + 1)));
  }
  state.busy = false;
  const { status, data } = result;
  if (status === 200 && data.status === 'accepted') {
    grid.classList.add('done');
    if (data.external_submit) { say(data.detail, 'success'); postExternal(data.external_submit); return; }
    if ('external_submit' in data || inMTurk()) {
      // accepted and saved, but there is no MTurk form to post to: say so, offer nothing else
      say(data.detail, data.external_submit === null ? 'warning' : 'success');
      submitButton.disabled = true;
      return;
    }
    say(data.detail, 'success');
    submitButton.textContent = 'Next set';
    submitButton.disabled = false;
    submitButton.onclick = () => { submitButton.onclick = null; submitButton.textContent = 'Submit answers'; grid.classList.remove('done'); load(); };
    return;
  }
  if (status === 422) {
    // failed (no attempt left) or blocked (the account can take no more sets): nothing more to do here
    if (data.status === 'failed' || data.status === 'blocked') {
      say(data.detail + (inMTurk() ? RETURN_HIT : ''), 'error'); submitButton.disabled = true; return;
    }
    say(`${data.detail} (${data.attempts_left} attempt${data.attempts_left === 1 ? '' : 's'} left)`, 'warning');
    state.submissionId = null;
    updateProgress();
    return;
  }
  say(data.detail || `Could not submit (error ${status}).`, 'error');
  if (status === 403) { submitButton.disabled = true; return; } // e.g. a blocked account: retrying cannot help
  updateProgress();
}

submitButton.addEventListener('click', () => { if (!submitButton.onclick) submit(); });

document.addEventListener('keydown', (event) => {
  if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (!state.soundOn) { state.soundOn = true; focusCard(state.current, { play: false }); }
  if (key === 'y') { answer(state.current, true); focusCard(state.current + 1); event.preventDefault(); }
  else if (key === 'n') { answer(state.current, false); focusCard(state.current + 1); event.preventDefault(); }
  else if (key === 'arrowright' || key === 'arrowdown') { focusCard(state.current + 1); event.preventDefault(); }
  else if (key === 'arrowleft' || key === 'arrowup') { focusCard(state.current - 1); event.preventDefault(); }
  else if (key === ' ') { replay(state.current); event.preventDefault(); }
  else if (key === 'enter' && !submitButton.disabled) { submitButton.click(); event.preventDefault(); }
});

load();
