#!/usr/bin/env node
// The moderation console in a real headless Chromium (Debian's chromium),
// driven with puppeteer-core: log in with the API secret, search a user's
// messages, redact one, see it gone from GET room, see the action in the
// audit log on the page and in the API; the secret never in the page's
// URL. Screenshots go to build/console/ for review.
//
// Environment: CHAT_URL, API_SECRET, CHROMIUM (default /usr/bin/chromium),
// SHOTS (the screenshot folder). Exit 1 on any failure.
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const BASE = process.env.CHAT_URL;
const SECRET = process.env.API_SECRET;
const SHOTS = process.env.SHOTS || 'build/console';
const P = '/chat/v1';
fs.mkdirSync(SHOTS, { recursive: true });

let failed = 0;
function check(name, ok, detail = '') {
  console.log(`${ok ? 'ok     ' : 'FAILED '} ${name}${ok || !detail ? '' : `: ${detail}`}`);
  if (!ok) failed++;
}

async function api(p, body) {
  const res = await fetch(`${BASE}${P}/auth/${encodeURIComponent(SECRET)}${p}`, body ? {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  } : {});
  return { status: res.status, json: await res.json().catch(() => null) };
}

// A room with two messages from alice and one from bob.
await api('/rooms', { type: 'console', users: ['alice', 'bob'] });
const ROOM = encodeURIComponent('console/alice/bob');
for (const [who, text] of [['alice', 'nice game'], ['alice', 'you are terrible'], ['bob', 'thanks']]) {
  const res = await fetch(`${BASE}${P}/auth/${encodeURIComponent(`${SECRET}.${who}`)}/rooms/${ROOM}/messages`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ timestamp: Date.now(), type: 'text', message: text }),
  });
  if (res.status !== 200) throw new Error(`posting failed: ${res.status}`);
}

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const errors = [];
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.setViewport({ width: 1100, height: 900 });
  const res = await page.goto(`${BASE}${P}/console`, { waitUntil: 'networkidle0' });
  check('the console answers 200 with a CSP', res.status() === 200
    && /script-src 'self'/.test(res.headers()['content-security-policy'] || ''));
  await page.screenshot({ path: path.join(SHOTS, '1-login.png') });

  // Log in: labelled fields, reachable by keyboard.
  await page.focus('#secret');
  await page.keyboard.type(SECRET);
  await page.keyboard.press('Tab');
  await page.keyboard.type('mod-ann');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => !document.getElementById('work').hidden, { timeout: 5000 });
  check('logged in', await page.$eval('#status', (e) => e.textContent.includes('mod-ann')));
  check('the secret is not in the page URL', !page.url().includes(SECRET));

  // Search alice's messages.
  await page.type('#s-user', 'alice');
  await page.click('#search button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#results tbody tr').length === 2, { timeout: 5000 });
  const rows = await page.$$eval('#results tbody tr', (trs) => trs.map((tr) => tr.textContent));
  check('search finds alice\'s two messages', rows.some((r) => r.includes('you are terrible')) && rows.length === 2, JSON.stringify(rows));
  await page.screenshot({ path: path.join(SHOTS, '2-search.png') });

  // Redact the insult, with a reason.
  await page.type('#reason', 'insult, reported by bob');
  const id = await page.$$eval('#results tbody tr', (trs) => {
    const tr = trs.find((t) => t.textContent.includes('you are terrible'));
    return Number(tr.children[0].textContent);
  });
  await page.click(`button[aria-label="Redact message ${id} from alice"]`);
  await page.waitForFunction(() => [...document.querySelectorAll('#results tbody tr')]
    .some((tr) => tr.textContent.includes('redacted by mod-ann')), { timeout: 5000 });
  await page.screenshot({ path: path.join(SHOTS, '3-redacted.png') });

  // Gone from GET room; the other messages stay.
  const room = await api(`/rooms/${ROOM}`);
  const texts = room.json.messages.map((m) => m.message);
  check('the message is gone from GET room', !texts.includes('you are terrible') && texts.includes('nice game'), JSON.stringify(texts));

  // The action in the audit log: on the page and in the API.
  await page.click('#audit-refresh');
  await page.waitForFunction(() => [...document.querySelectorAll('#audit tbody tr')]
    .some((tr) => tr.textContent.includes('redact_message') && tr.textContent.includes('mod-ann')), { timeout: 5000 });
  const audit = await api('/audit?limit=1');
  check('the audit log records it', audit.json.entries[0].action === 'redact_message'
    && audit.json.entries[0].actor === 'mod-ann' && audit.json.entries[0].reason === 'insult, reported by bob');
  await page.screenshot({ path: path.join(SHOTS, '4-audit.png'), fullPage: true });

  // A legal hold on bob: placed, listed, lifted.
  await page.type('#hold-user', 'bob');
  await page.click('#hold button[type=submit]');
  await page.waitForFunction(() => document.getElementById('holds-list').textContent.includes('on user bob'), { timeout: 5000 });
  const holds = await api('/holds');
  check('the hold is placed', holds.json.holds.some((h) => h.subject === 'bob' && h.createdBy === 'mod-ann'));
  await page.click('#holds-list button');
  await page.waitForFunction(() => !document.getElementById('holds-list').textContent.includes('on user bob'), { timeout: 5000 });
  check('the hold is lifted', (await api('/holds')).json.holds.length === 0);

  // A phone's width: still usable.
  await page.setViewport({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SHOTS, '5-phone.png'), fullPage: true });

  // Log out: the secret leaves the tab.
  await page.click('#logout');
  check('logged out, the secret forgotten', await page.evaluate(() => sessionStorage.getItem('secret') === null));
  check('no error in the page', errors.length === 0, errors.join('; '));
} finally {
  await browser.close();
}
console.log(`${failed ? 'FAILED' : 'passed'}: screenshots in ${SHOTS}/`);
process.exit(failed ? 1 : 0);
