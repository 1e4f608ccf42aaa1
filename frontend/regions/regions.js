// The region drawing page: one image at a time, boxes around the regions that show the action,
// or a skip when none does; the same preview / submit / refusal behaviour as the Yes/No page.
import { api, pageParam, uuid4 } from '../lib/api.js';
import { showDefinition } from '../lib/definition.js';
import { BoxEditor } from './editor.js';

const $ = (id) => document.getElementById(id);
const app = $('app');
const banner = $('banner');
const submitButton = $('submit');
const skipButton = $('skip');
const deleteButton = $('delete-box');
const strip = $('strip');
const boxList = $('box-list');
const hint = $('hint');
const progress = document.querySelector('.progress');

const state = {
  set: null, index: 0, entries: new Map(), images: new Map(), preview: false, submissionId: null, busy: false,
  enteredAt: 0,
};

const isPreview = () => pageParam('preview') === '1' || pageParam('assignmentId') === 'ASSIGNMENT_ID_NOT_AVAILABLE';

function say(text, kind = 'info') {
  banner.textContent = text;
  banner.dataset.kind = kind;
  banner.hidden = !text;
}

const editor = new BoxEditor($('canvas'), $('stage'), {
  onChange: () => {
    const entry = current();
    if (!entry) return;
    entry.boxes = editor.boxes.map((b) => ({ ...b }));
    if (entry.boxes.length) entry.skip = false;
    state.submissionId = null; // the regions changed: the next submit is a new submission
    refresh();
  },
  onHint: (text) => { hint.textContent = text; },
  onSelect: (index) => { deleteButton.disabled = state.preview || index < 0; renderBoxList(); },
});

function current() {
  const item = state.set?.items[state.index];
  return item ? state.entries.get(item.id) : null;
}

function isDone(entry) { return entry.skip || entry.boxes.length > 0; }

function round1(v) { return Math.round(v * 10) / 10; }

function refresh() {
  const items = state.set ? state.set.items : [];
  const done = items.filter((item) => isDone(state.entries.get(item.id))).length;
  $('progress-fill').style.width = items.length ? `${(100 * done) / items.length}%` : '0';
  $('progress-text').textContent = `${done} / ${items.length}`;
  progress.setAttribute('aria-valuenow', String(done));
  progress.setAttribute('aria-valuemax', String(items.length));
  submitButton.disabled = state.preview || state.busy || !items.length || done < items.length;
  const entry = current();
  skipButton.setAttribute('aria-pressed', String(Boolean(entry?.skip)));
  skipButton.disabled = state.preview || !entry;
  $('image-label').textContent = items.length ? `Image ${state.index + 1} of ${items.length}` : 'No image';
  $('zoom-text').textContent = `${Math.round(editor.scale * 100)}%`;
  strip.querySelectorAll('button').forEach((b, i) => {
    const e = state.entries.get(items[i].id);
    b.dataset.state = e.skip ? 'skipped' : e.boxes.length ? 'done' : 'todo';
    if (i === state.index) b.setAttribute('aria-current', 'true'); else b.removeAttribute('aria-current');
  });
  renderBoxList();
}

function renderBoxList() {
  const entry = current();
  boxList.replaceChildren();
  if (!entry) return;
  if (entry.skip) {
    const li = document.createElement('li');
    li.textContent = 'Skipped: no region of this image helps to recognise the action.';
    boxList.append(li);
    return;
  }
  editor.boxes.forEach((b, i) => {
    const li = document.createElement('li');
    li.dataset.box = String(i);
    if (i === editor.selected) li.classList.add('selected');
    const label = document.createElement('span');
    label.textContent = `Box ${i + 1}: ${round1(b.x0)}, ${round1(b.y0)} – ${round1(b.x1)}, ${round1(b.y1)}`;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = '×';
    remove.disabled = state.preview;
    remove.setAttribute('aria-label', `Delete box ${i + 1}`);
    remove.addEventListener('click', () => editor.deleteAt(i));
    li.append(label, remove);
    boxList.append(li);
  });
}

function image(item) {
  // every image of the set is fetched at once, so moving between them is instant
  if (!state.images.has(item.id)) {
    const img = new Image();
    img.decoding = 'async';
    img.src = item.media_url;
    state.images.set(item.id, img.decode().then(() => img).catch(() => img));
  }
  return state.images.get(item.id);
}

function leave() {
  const entry = current();
  if (entry && state.enteredAt) entry.ms += Math.round(performance.now() - state.enteredAt);
  state.enteredAt = 0;
}

async function show(index) {
  if (!state.set) return;
  const items = state.set.items;
  leave();
  state.index = Math.max(0, Math.min(items.length - 1, index));
  const item = items[state.index];
  const entry = state.entries.get(item.id);
  hint.textContent = '';
  const img = await image(item);
  if (items[state.index] !== item) return; // the worker moved on while the image loaded
  editor.load(img, {
    width: item.width, height: item.height, boxes: entry.boxes, minBox: state.set.limits.min_box,
    maxBoxes: state.set.limits.max_boxes, readOnly: state.preview,
  });
  Object.assign($('canvas').dataset, { item: item.id, width: String(item.width), height: String(item.height) });
  state.enteredAt = performance.now();
  refresh();
}

function nextUndone() {
  const items = state.set.items;
  for (let k = 1; k <= items.length; k += 1) {
    const i = (state.index + k) % items.length;
    if (!isDone(state.entries.get(items[i].id))) return i;
  }
  return Math.min(items.length - 1, state.index + 1);
}

function toggleSkip() {
  const entry = current();
  if (!entry || state.preview) return;
  entry.skip = !entry.skip;
  if (entry.skip) { entry.boxes = []; editor.clear(); }
  state.submissionId = null;
  refresh();
  if (entry.skip) show(nextUndone());
}

function render(set) {
  state.set = set;
  state.preview = Boolean(set.preview) || isPreview();
  state.entries = new Map(set.items.map((item) => [item.id, { boxes: [], skip: false, ms: 0 }]));
  state.images = new Map();
  state.submissionId = null;
  $('task-title').textContent = set.question;
  showDefinition($('task-definition'), set.action);
  strip.replaceChildren();
  set.items.forEach((item, i) => {
    image(item);
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'thumb';
    b.dataset.item = item.id;
    b.setAttribute('aria-label', `Image ${i + 1}`);
    const thumb = document.createElement('img');
    thumb.src = item.media_url;
    thumb.alt = '';
    b.append(thumb);
    b.addEventListener('click', () => show(i));
    strip.append(b);
  });
  say(state.preview ? 'Preview: accept the task to draw boxes on these images.' : '');
  show(0);
}

async function load() {
  state.busy = true;
  const { ok, data, status } = await api(`${app.dataset.api}${encodeURIComponent(app.dataset.dataset)}/sets/`,
    { method: 'POST' });
  state.busy = false;
  if (!ok) { say(data.detail || `Error ${status}`, 'error'); $('task-title').textContent = 'No task'; refresh(); return; }
  if (!data.set) {
    state.set = null; strip.replaceChildren(); boxList.replaceChildren();
    editor.load(null, { width: 0, height: 0 });
    $('task-title').textContent = 'All done'; say(data.detail, 'info'); refresh(); return;
  }
  render(data.set);
}

function postExternal(target) {
  // MTurk: post the assignment form from inside the frame once the platform accepted the set.
  const form = $('external-submit');
  form.action = target.url;
  form.replaceChildren();
  for (const [k, v] of Object.entries(target.fields)) {
    const input = document.createElement('input');
    input.type = 'hidden'; input.name = k; input.value = v;
    form.append(input);
  }
  form.submit();
}

async function submit() {
  if (submitButton.disabled) return;
  leave();
  state.enteredAt = performance.now();
  state.busy = true; refresh();
  state.submissionId = state.submissionId || uuid4();
  const regions = state.set.items.map((item) => {
    const e = state.entries.get(item.id);
    return {
      item: item.id, skip: e.skip, ms: e.ms,
      boxes: e.skip ? [] : e.boxes.map((b) => [round1(b.x0), round1(b.y0), round1(b.x1), round1(b.y1)]),
    };
  });
  let result;
  for (let tries = 0; tries < 3; tries += 1) {
    try {
      result = await api(`${app.dataset.api}sets/${state.set.id}/submit/`, {
        method: 'POST', body: { submission_id: state.submissionId, regions },
      });
      if (result.status < 500) break;
    } catch (err) { result = { status: 0, data: { detail: 'Network error; retrying…' } }; }
    await new Promise((r) => setTimeout(r, 500 * (tries + 1)));
  }
  state.busy = false;
  const { status, data } = result;
  if (status === 200 && data.status === 'accepted') {
    say(data.detail, 'success');
    app.classList.add('done');
    if (data.external_submit) { postExternal(data.external_submit); return; }
    submitButton.textContent = 'Next set';
    submitButton.disabled = false;
    submitButton.onclick = () => {
      submitButton.onclick = null; submitButton.textContent = 'Submit regions'; app.classList.remove('done'); load();
    };
    return;
  }
  if (status === 422) {
    // failed (no attempt left) or blocked (the account can take no more sets): nothing more to do here
    if (data.status === 'failed' || data.status === 'blocked') { say(data.detail, 'error'); submitButton.disabled = true; return; }
    say(`${data.detail} (${data.attempts_left} attempt${data.attempts_left === 1 ? '' : 's'} left)`, 'warning');
    state.submissionId = null;
    refresh();
    return;
  }
  say(data.detail || `Could not submit (error ${status}).`, 'error');
  if (status === 403) { submitButton.disabled = true; return; } // e.g. a blocked account: retrying cannot help
  refresh();
}

submitButton.addEventListener('click', () => { if (!submitButton.onclick) submit(); });
skipButton.addEventListener('click', toggleSkip);
deleteButton.addEventListener('click', () => editor.deleteSelected());
$('prev').addEventListener('click', () => show(state.index - 1));
$('next').addEventListener('click', () => show(state.index + 1));
$('zoom-in').addEventListener('click', () => { editor.zoom(1.25); refresh(); });
$('zoom-out').addEventListener('click', () => { editor.zoom(0.8); refresh(); });
$('zoom-fit').addEventListener('click', () => { editor.fit(); refresh(); });
window.addEventListener('resize', () => { editor.fit(); refresh(); });

document.addEventListener('keydown', (event) => {
  if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
  // a focused button keeps its own Enter and Space
  if (event.target instanceof HTMLButtonElement && (event.key === 'Enter' || event.key === ' ')) return;
  if (!state.set || app.classList.contains('done')) {
    if (event.key === 'Enter' && !submitButton.disabled) { submitButton.click(); event.preventDefault(); }
    return;
  }
  const step = event.shiftKey ? 10 : 1;
  const key = event.key;
  let handled = true;
  if (key === 'Delete' || key === 'Backspace') editor.deleteSelected();
  else if (key === 'Escape') editor.select(-1);
  else if (key === 'Tab' && event.target === editor.canvas && editor.boxes.length) editor.selectNext();
  else if (key === 's' || key === 'S') toggleSkip();
  else if (key === 'n' || key === 'N' || key === 'PageDown') show(state.index + 1);
  else if (key === 'p' || key === 'P' || key === 'PageUp') show(state.index - 1);
  else if (key === '+' || key === '=') { editor.zoom(1.25); refresh(); }
  else if (key === '-' || key === '_') { editor.zoom(0.8); refresh(); }
  else if (key === '0') { editor.fit(); refresh(); }
  else if (key.startsWith('Arrow') && editor.selected >= 0) {
    editor.nudge(key === 'ArrowLeft' ? -step : key === 'ArrowRight' ? step : 0,
      key === 'ArrowUp' ? -step : key === 'ArrowDown' ? step : 0);
  } else if (key === 'ArrowRight') show(state.index + 1);
  else if (key === 'ArrowLeft') show(state.index - 1);
  else if (key === 'Enter' && !submitButton.disabled) submitButton.click();
  else handled = false;
  if (handled) event.preventDefault();
});

load();
