// Headless Chromium for the web chat's browser tests, driven by npm `playwright-core`.
//
//   node browser.js [CHROMIUM]
//
// Launches one Chromium (Debian's /usr/bin/chromium unless CHROMIUM is given) for the whole
// test session, serves a portal page that embeds the widget, and listens for the tests on a
// control port. Prints {"control": N, "portal": M, "chromium": VERSION, "launch_ms": T} as the
// first line of stdout. Each control connection is one citizen: a fresh browser context (its own
// storage, cookies, network) with one page, closed when the connection closes. The connection
// speaks one JSON object per line each way: {"cmd": "name", ...arguments} in, {"ok": true,
// "result": ...} or {"error": "...", "console": [...], "screenshot": PATH} out. Everything the
// page logs goes to console.log in the connection's artifacts directory as it happens, so a
// failed test can show it. It exits when its stdin closes, so it never outlives the test run.
'use strict';

const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const CHROMIUM = process.argv[2] || '/usr/bin/chromium';
// The sandbox needs user namespaces a container rarely grants; the GPU is absent; background
// networking would try hosts this machine cannot reach.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking'];
// A bounded wait for each action and for what the page should show: generous for a loaded CI
// machine, where the daemon answers in milliseconds.
const WAIT_MS = 10000;
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// The portal's page as the portal's developers would write it: the widget is one script tag,
// and the page's own Content-Security-Policy names only the daemon's origin for the widget.
function portalPage(widgetUrl, lang, identity) {
  const daemon = new URL(widgetUrl);
  const socket = `${daemon.protocol === 'https:' ? 'wss:' : 'ws:'}//${daemon.host}`;
  const csp = [
    "default-src 'self'",
    `script-src ${daemon.origin}`,
    `style-src ${daemon.origin}`,
    `connect-src ${daemon.origin} ${socket}`,
    "img-src 'self' data:",
  ].join('; ');
  const escape = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const langAttribute = lang ? ` data-lang="${escape(lang)}"` : '';
  const identityAttribute = identity ? ` data-identity="${escape(identity)}"` : '';
  const html = `<!doctype html>
<html lang="ru">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Портал государственных услуг — поддержка</title>
</head>
<body>
  <main>
    <h1>Поддержка портала</h1>
    <p>Задайте вопрос в чате: ответ придёт сюда же.</p>
    <script src="${escape(widgetUrl)}"${langAttribute}${identityAttribute}></script>
  </main>
</body>
</html>
`;
  return { html, csp };
}

function servePortal(request, response) {
  const url = new URL(request.url, 'http://portal');
  const widget = url.searchParams.get('widget');
  if (url.pathname === '/favicon.ico') {
    response.writeHead(204); // the portal has one; a 404 would be noise in every console log
    response.end();
    return;
  }
  if (url.pathname !== '/portal' || !widget) {
    response.writeHead(404, { 'Content-Type': 'text/plain' });
    response.end('GET /portal?widget=URL[&lang=ru][&identity=JSON]\n');
    return;
  }
  const { html, csp } = portalPage(widget, url.searchParams.get('lang'), url.searchParams.get('identity'));
  response.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': csp,
    'Cache-Control': 'no-store',
  });
  response.end(html);
}

// Files as a test describes them: {name, mime, base64} or {name, mime, size} (zero bytes).
function filePayloads(files) {
  return files.map(({ name, mime, base64, size }) => ({
    name,
    mimeType: mime,
    buffer: base64 !== undefined ? Buffer.from(base64, 'base64') : Buffer.alloc(size),
  }));
}

// One citizen's browser: a context and its tabs (the current one is `page`), and what they said.
class Citizen {
  constructor(browser) {
    this.browser = browser;
    this.context = null;
    this.page = null;
    this.pages = [];
    this.artifacts = null;
    this.console = [];
  }

  note(line) {
    this.console.push(line);
    if (this.artifacts) fs.appendFileSync(path.join(this.artifacts, 'console.log'), `${line}\n`);
  }

  async start({ artifacts }) {
    fs.mkdirSync(artifacts, { recursive: true });
    this.artifacts = artifacts;
    this.context = await this.browser.newContext({ locale: 'ru-RU', viewport: { width: 1024, height: 768 } });
    this.context.setDefaultTimeout(WAIT_MS); // every action and wait, not only `see`
    await this.newTab();
    return null;
  }

  // Another tab of the same browser (same storage and network), which becomes the current one.
  async newTab() {
    const page = await this.context.newPage();
    const tab = this.pages.length;
    page.on('console', (m) => this.note(`tab ${tab} console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => this.note(`tab ${tab} pageerror: ${e.message}`));
    page.on('requestfailed', (r) => this.note(`tab ${tab} requestfailed: ${r.url()} ${r.failure().errorText}`));
    page.on('websocket', (ws) => {
      this.note(`tab ${tab} websocket open: ${ws.url()}`);
      ws.on('close', () => this.note(`tab ${tab} websocket closed: ${ws.url()}`));
    });
    this.pages.push(page);
    this.page = page;
    return tab;
  }

  // Drop files on the element `selector` as a drag from the desktop does.
  async drop(selector, files) {
    const payload = filePayloads(files).map((f) => ({ ...f, buffer: f.buffer.toString('base64') }));
    const dataTransfer = await this.page.evaluateHandle((list) => {
      const transfer = new DataTransfer();
      for (const f of list) {
        const bytes = Uint8Array.from(atob(f.buffer), (c) => c.charCodeAt(0));
        transfer.items.add(new File([bytes], f.name, { type: f.mimeType }));
      }
      return transfer;
    }, payload);
    await this.page.locator(selector).dispatchEvent('dragover', { dataTransfer });
    await this.page.locator(selector).dispatchEvent('drop', { dataTransfer });
    return null;
  }

  async close() {
    if (this.context) await this.context.close();
  }

  async screenshot(name) {
    const file = path.join(this.artifacts, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }

  // What has keyboard focus, and whether a sighted keyboard user can see it.
  async focused() {
    return this.page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
      const label = el.labels && el.labels.length ? el.labels[0].textContent : el.getAttribute('aria-label');
      return {
        tag: el.tagName.toLowerCase(),
        id: el.id,
        label: label || el.textContent.trim().slice(0, 80),
        focus_visible: el.matches(':focus-visible'),
        indicator: outline || style.boxShadow !== 'none',
      };
    });
  }

  // axe-core's audit of the part of the page `include` selects, violations only.
  async audit({ include }) {
    await this.page.evaluate(AXE_SOURCE);
    return this.page.evaluate(async (selector) => {
      const result = await window.axe.run({ include: [selector] }, { resultTypes: ['violations'] });
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
      }));
    }, include);
  }
}

// The control commands: what a citizen does and sees, in Playwright's own terms.
const COMMANDS = {
  start: (c, args) => c.start(args),
  open: async (c, { url }) => {
    await c.page.goto(url);
    return null;
  },
  reload: async (c) => {
    await c.page.reload();
    return null;
  },
  leave: async (c) => {
    await c.page.goto('about:blank');
    return null;
  },
  new_tab: (c) => c.newTab(),
  switch_tab: async (c, { index }) => {
    c.page = c.pages[index];
    await c.page.bringToFront();
    return null;
  },
  // What the portal's own script does once its user logs in: hand the widget their identity.
  identify: async (c, { identity }) => {
    await c.page.evaluate((signed) => window.omniChat.identify(signed), identity);
    return null;
  },
  select: async (c, { label, option }) => {
    await c.page.getByLabel(label, { exact: true }).selectOption({ label: option });
    return null;
  },
  choose_files: async (c, { selector, files }) => {
    await c.page.locator(selector).setInputFiles(filePayloads(files));
    return null;
  },
  drop: (c, { selector, files }) => c.drop(selector, files),
  reduced_motion: async (c, { reduce }) => {
    await c.page.emulateMedia({ reducedMotion: reduce ? 'reduce' : 'no-preference' });
    return null;
  },
  // The citizen's browser set to show text at `percent` of its size (WCAG 2.1, 1.4.4).
  text_size: async (c, { percent }) => {
    await c.page.evaluate((p) => { document.documentElement.style.fontSize = `${p}%`; }, percent);
    return null;
  },
  // Whether the element `selector` is wider than its box (a horizontal scroll bar, cut text).
  overflows: async (c, { selector }) =>
    c.page.locator(selector).first().evaluate((el) => el.scrollWidth > el.clientWidth),
  style: async (c, { selector, property }) =>
    c.page.locator(selector).first().evaluate((el, name) => getComputedStyle(el).getPropertyValue(name), property),
  fill: async (c, { label, text }) => {
    await c.page.getByLabel(label, { exact: true }).fill(text);
    return null;
  },
  type: async (c, { text }) => {
    await c.page.keyboard.type(text);
    return null;
  },
  press: async (c, { key }) => {
    await c.page.keyboard.press(key);
    return null;
  },
  see: async (c, { text, within }) => {
    await c.page.locator(within).getByText(text).first().waitFor({ state: 'visible' });
    return null;
  },
  wait_for: async (c, { selector }) => {
    await c.page.locator(selector).first().waitFor({ state: 'attached' });
    return null;
  },
  texts: async (c, { selector }) => c.page.locator(selector).allInnerTexts(),
  offline: async (c, { offline }) => {
    await c.context.setOffline(offline);
    return null;
  },
  color_scheme: async (c, { scheme }) => {
    await c.page.emulateMedia({ colorScheme: scheme });
    return null;
  },
  focused: (c) => c.focused(),
  audit: (c, args) => c.audit(args),
  screenshot: (c, { name }) => c.screenshot(name),
};

async function runCommand(citizen, request) {
  const command = COMMANDS[request.cmd];
  if (!command) return { error: `unknown command: ${request.cmd}` };
  if (request.cmd !== 'start' && !citizen.page) return { error: 'send start first' };
  try {
    return { ok: true, result: await command(citizen, request) };
  } catch (error) {
    const answer = { error: error.message, console: citizen.console.slice(-50) };
    try {
      answer.screenshot = await citizen.screenshot('failure');
    } catch (shotError) {
      answer.screenshot = `none: ${shotError.message}`;
    }
    return answer;
  }
}

function serveControl(browser) {
  return (socket) => {
    const citizen = new Citizen(browser);
    const lines = readline.createInterface({ input: socket });
    // One command at a time, in order: the next line waits for the previous answer.
    let queue = Promise.resolve();
    lines.on('line', (line) => {
      queue = queue.then(async () => {
        let answer;
        try {
          answer = await runCommand(citizen, JSON.parse(line));
        } catch (error) {
          answer = { error: `bad command line: ${error.message}` };
        }
        if (!socket.destroyed) socket.write(`${JSON.stringify(answer)}\n`);
      });
    });
    socket.on('error', () => {}); // the test hung up: the close below tidies up
    socket.on('close', () => {
      queue = queue.then(() => citizen.close()).catch(() => {});
    });
  };
}

async function main() {
  const started = process.hrtime.bigint();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const launchMs = Number(process.hrtime.bigint() - started) / 1e6;
  const portal = http.createServer(servePortal);
  const control = net.createServer(serveControl(browser));
  await new Promise((resolve) => portal.listen(0, '127.0.0.1', resolve));
  await new Promise((resolve) => control.listen(0, '127.0.0.1', resolve));
  process.stdout.write(
    `${JSON.stringify({
      control: control.address().port,
      portal: portal.address().port,
      chromium: browser.version(),
      launch_ms: Math.round(launchMs),
    })}\n`,
  );
  process.stdin.on('end', async () => {
    await browser.close();
    process.exit(0);
  });
  process.stdin.resume();
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
