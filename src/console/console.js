/* The moderation console: plain JavaScript, no build step. It keeps the API
 * secret and the moderator's name in sessionStorage (this tab only), puts
 * the secret in the path of its API calls (as every ganomede service does),
 * never in the page's URL, and writes every text with textContent. */
'use strict';

const prefix = document.body.dataset.prefix;
const $ = (id) => document.getElementById(id);
let live = null;

function secret() { return sessionStorage.getItem('secret') || ''; }
function actor() { return sessionStorage.getItem('actor') || ''; }
function api(path) { return `${prefix}/auth/${encodeURIComponent(secret())}${path}`; }

function say(text, error) {
  const s = $('status');
  s.textContent = text;
  s.className = error ? 'error' : '';
}

async function call(path, body) {
  const init = body === undefined ? {} : {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  };
  const res = await fetch(api(path), init);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401) logout('The secret was refused: log in again.');
    throw new Error(`${res.status} ${data.code || ''} ${data.message || ''}`.trim());
  }
  return data;
}

function cell(row, text, cls) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function reason() {
  const r = $('reason').value.trim();
  if (!r) {
    say('Give a reason first (it goes to the audit log).', true);
    $('reason').focus();
  }
  return r;
}

function showResults(messages) {
  const body = $('results').querySelector('tbody');
  body.replaceChildren();
  for (const m of messages) {
    const row = document.createElement('tr');
    cell(row, m.id);
    cell(row, m.storedAt);
    cell(row, m.roomId);
    cell(row, m.from);
    if (m.redacted) {
      cell(row, `redacted by ${m.redacted.by}: ${m.redacted.reason || ''}`, 'message redacted');
      cell(row, '');
    } else {
      cell(row, m.message, 'message');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'danger';
      button.textContent = 'Redact';
      button.setAttribute('aria-label', `Redact message ${m.id} from ${m.from}`);
      button.addEventListener('click', () => redact(m.id));
      cell(row, '').appendChild(button);
    }
    body.appendChild(row);
  }
  say(`${messages.length} message(s) found.`);
}

async function search(event) {
  if (event) event.preventDefault();
  const q = new URLSearchParams({ limit: '50' });
  for (const k of ['user', 'room', 'since', 'until']) {
    const v = $(`s-${k}`).value.trim();
    if (v) q.set(k, v);
  }
  try {
    showResults((await call(`/archive/messages?${q}`)).messages);
  } catch (e) { say(`Search failed: ${e.message}`, true); }
}

async function redact(id) {
  const why = reason();
  if (!why) return;
  try {
    const r = await call(`/archive/messages/${id}/redact`, { actor: actor(), reason: why });
    say(`Message ${id}: ${r.status}.`);
    await search();
    await audit();
  } catch (e) { say(`Redaction failed: ${e.message}`, true); }
}

async function redactUser() {
  const user = $('s-user').value.trim();
  const why = reason();
  if (!user) { say('Search a user first.', true); return; }
  if (!why) return;
  try {
    const r = await call(`/archive/users/${encodeURIComponent(user)}/redact`, { actor: actor(), reason: why });
    say(`${r.redacted} message(s) of ${user} redacted.`);
    await search();
    await audit();
  } catch (e) { say(`Redaction failed: ${e.message}`, true); }
}

function line(list, m) {
  const li = document.createElement('li');
  li.textContent = `${m.from}: ${m.message}`;
  list.appendChild(li);
}

async function history(event) {
  event.preventDefault();
  const room = $('h-room').value.trim();
  try {
    const page = await call(`/rooms/${encodeURIComponent(room)}/messages?limit=50`);
    $('history-list').replaceChildren();
    for (const m of page.messages) line($('history-list'), m);
    say(`${page.messages.length} message(s) of ${room}.`);
  } catch (e) { say(`Reading the room failed: ${e.message}`, true); }
}

function watch() {
  const room = $('h-room').value.trim();
  if (!room) { say('Name a room first.', true); return; }
  if (live) live.close();
  $('live-list').replaceChildren();
  live = new EventSource(api(`/events?room=${encodeURIComponent(room)}`));
  live.addEventListener('message', (e) => line($('live-list'), JSON.parse(e.data)));
  live.addEventListener('open', () => say(`Watching ${room} live.`));
  live.addEventListener('error', () => say(`The live stream of ${room} was interrupted; it reconnects.`, true));
}

async function holds() {
  try {
    const list = $('holds-list');
    list.replaceChildren();
    for (const h of (await call('/holds')).holds) {
      const li = document.createElement('li');
      li.textContent = `#${h.id} on ${h.kind} ${h.subject} by ${h.createdBy}: ${h.reason} `;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Lift';
      button.setAttribute('aria-label', `Lift hold ${h.id}`);
      button.addEventListener('click', () => lift(h.id));
      li.appendChild(button);
      list.appendChild(li);
    }
  } catch (e) { say(`Reading the holds failed: ${e.message}`, true); }
}

async function placeHold(event) {
  event.preventDefault();
  const user = $('hold-user').value.trim();
  const room = $('hold-room').value.trim();
  const why = reason();
  if (!why) return;
  try {
    await call('/holds', { ...(user ? { user } : { room }), actor: actor(), reason: why });
    say('Hold placed.');
    await holds();
    await audit();
  } catch (e) { say(`Placing the hold failed: ${e.message}`, true); }
}

async function lift(id) {
  const why = reason();
  if (!why) return;
  try {
    await call(`/holds/${id}/lift`, { actor: actor(), reason: why });
    say(`Hold ${id} lifted.`);
    await holds();
    await audit();
  } catch (e) { say(`Lifting the hold failed: ${e.message}`, true); }
}

async function audit() {
  try {
    const body = $('audit').querySelector('tbody');
    body.replaceChildren();
    for (const e of (await call('/audit?limit=50')).entries) {
      const row = document.createElement('tr');
      cell(row, e.at);
      cell(row, e.actor);
      cell(row, e.action);
      cell(row, e.subject);
      cell(row, e.reason);
      body.appendChild(row);
    }
  } catch (e) { say(`Reading the audit log failed: ${e.message}`, true); }
}

function enter() {
  $('login-section').hidden = true;
  $('work').hidden = false;
  $('logout').hidden = false;
  say(`Logged in as ${actor()}.`);
  holds();
  audit();
  $('s-user').focus();
}

function logout(message) {
  sessionStorage.clear();
  if (live) live.close();
  $('work').hidden = true;
  $('logout').hidden = true;
  $('login-section').hidden = false;
  say(message || 'Logged out.');
}

async function login(event) {
  event.preventDefault();
  sessionStorage.setItem('secret', $('secret').value);
  sessionStorage.setItem('actor', $('actor').value.trim());
  $('secret').value = '';
  try {
    await call('/audit?limit=1');   /* only the secret may read it */
    enter();
  } catch (e) {
    logout(`Log in failed: ${e.message}`);
    $('status').className = 'error';
  }
}

$('login').addEventListener('submit', login);
$('logout').addEventListener('click', () => logout());
$('search').addEventListener('submit', search);
$('redact-user').addEventListener('click', redactUser);
$('history').addEventListener('submit', history);
$('watch').addEventListener('click', watch);
$('hold').addEventListener('submit', placeHold);
$('audit-refresh').addEventListener('click', audit);
if (secret()) enter();
