// The demo page: connects one device with the bundled browser client and shows what happens.
// Query parameters: user (default demo-user), device (default a random browser-… id kept for this
// tab), transports (comma-separated ladder), ping (RTT probe interval in ms, 0 for none),
// connect-timeout (ms per transport and attempt), resume=session-storage (keep the resume
// position across reloads).
// Tests and the browser runner read window.pushlabDemo instead of the DOM.
import * as pushlab from '/browser/pushlab-client.js';

const MAX_ROWS = 50;
const MAX_LOG_LINES = 200;
const MAX_KEPT_MESSAGES = 100_000;
const RTT_WINDOW = 20;

const params = new URLSearchParams(location.search);
const userId = params.get('user') ?? 'demo-user';
const deviceId = params.get('device') ?? tabDeviceId();
const transports = (params.get('transports') ?? 'webtransport,http-polling').split(',').filter(Boolean);
const pingEveryMs = Number(params.get('ping') ?? 2000);
const connectTimeoutMs = Number(params.get('connect-timeout') ?? 10_000);

const $ = (id) => document.getElementById(id);
const decoder = new TextDecoder();

/** State for tests and tools; every field is plain data except client and pushlab. */
const demo = {
  userId,
  deviceId,
  state: 'idle',
  /** Every state kind the client went through, in order. */
  states: [],
  transport: null,
  url: null,
  messages: [],
  fallbacks: [],
  warnings: [],
  rtts: [],
  closed: null,
  client: null,
  /** The bundle's exports, for scripts that open clients of their own next to the page's. */
  pushlab,
};
window.pushlabDemo = demo;

function tabDeviceId() {
  const key = 'pushlab:demo-device';
  let id = sessionStorage.getItem(key);
  if (!id) {
    // getRandomValues works outside secure contexts too, unlike randomUUID.
    const bytes = crypto.getRandomValues(new Uint8Array(4));
    id = `browser-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
    sessionStorage.setItem(key, id);
  }
  return id;
}

function log(level, text) {
  const item = document.createElement('li');
  item.className = level;
  item.textContent = `${new Date().toISOString().slice(11, 23)} ${text}`;
  const list = $('log');
  list.prepend(item);
  while (list.children.length > MAX_LOG_LINES) list.lastElementChild.remove();
}

/** Shows the client's own log lines in the page, info and above. */
const pageLogger = {
  debug() {},
  info: (fields, message) => log('info', message),
  warn: (fields, message) => log('warn', `${message}${fields.err ? `: ${fields.err.message}` : ''}`),
  error: (fields, message) => log('error', `${message}${fields.err ? `: ${fields.err.message}` : ''}`),
};

async function fetchToken() {
  const response = await fetch('/demo/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId, deviceId }),
  });
  if (response.ok) return (await response.json()).token;
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromFragment) return fromFragment;
  if (response.status === 404) {
    throw new Error('no token: start the gateway with --demo, or open this page as /demo#token=TOKEN with a token from `pushlab token`');
  }
  const body = await response.json().catch(() => ({}));
  throw new Error(`token request failed with HTTP ${response.status}: ${body.error?.message ?? 'no details'}`);
}

function showState(state) {
  demo.state = state.kind;
  demo.states.push(state.kind);
  const element = $('state');
  element.dataset.state = state.kind;
  element.textContent = describeState(state);
  if (state.kind === 'connected' || state.kind === 'connecting') demo.transport = state.transport;
  if (state.kind === 'connected') demo.url = state.url;
  $('transport').textContent = demo.transport ?? 'none';
  $('endpoint').textContent = demo.url ?? 'none';
}

function describeState(state) {
  switch (state.kind) {
    case 'connecting': return `connecting (attempt ${state.attempt}, ${state.transport})`;
    case 'connected': return `connected (session ${state.sessionId.slice(0, 8)}…, epoch ${state.epoch})`;
    case 'backoff': return `waiting ${state.delayMs} ms: ${state.reason}`;
    case 'closed': return `closed: ${state.reason}`;
    default: return state.kind;
  }
}

function showMessage(message) {
  const text = decoder.decode(message.payload);
  const entry = {
    seq: message.seq,
    messageId: message.messageId,
    text,
    publishedAtMs: message.publishedAtMs,
    receivedAtMs: message.receivedAtMs,
    replay: message.replay,
    via: message.via,
  };
  if (demo.messages.length < MAX_KEPT_MESSAGES) demo.messages.push(entry);
  const row = document.createElement('tr');
  const latency = message.publishedAtMs > 0 ? `${message.receivedAtMs - message.publishedAtMs} ms` : '';
  for (const cell of [String(message.seq), text, latency, `${message.via}${message.replay ? ' (replay)' : ''}`]) {
    const td = document.createElement('td');
    td.textContent = cell;
    row.append(td);
  }
  const body = $('messages');
  body.prepend(row);
  while (body.children.length > MAX_ROWS) body.lastElementChild.remove();
  showCounters();
}

function showCounters() {
  const stats = demo.client.stats;
  $('received').textContent = String(stats.messagesReceived);
  $('datagrams').textContent = String(stats.datagramsReceived);
  $('duplicates').textContent = String(stats.duplicatesReceived);
}

function showRtt(sample) {
  demo.rtts.push({ ms: sample.rttMs, source: sample.source });
  const recent = demo.rtts.slice(-RTT_WINDOW);
  const average = recent.reduce((sum, entry) => sum + entry.ms, 0) / recent.length;
  $('rtt').textContent = `${sample.rttMs} ms last, ${average.toFixed(1)} ms mean of ${recent.length} (${sample.source})`;
  showCounters();
}

const client = pushlab.connectPush({
  gatewayHttpUrl: location.origin,
  userId,
  deviceId,
  token: fetchToken,
  transports,
  connectTimeoutMs,
  resume: params.get('resume') === 'session-storage' ? 'session-storage' : 'memory',
  logger: pageLogger,
});
demo.client = client;
$('identity').textContent = `${userId} / ${deviceId}`;
// Prefilled with the page's own user, so sending right away makes the message come back here.
$('publish-to').value = userId;
$('curl-hint').textContent = `curl -d '${JSON.stringify({ userId, payload: 'hi' })}' ${location.origin}/v1/publish`;

client.on('state', showState);
client.on('message', showMessage);
client.on('rtt', showRtt);
client.on('gap', (range) => log('warn', `messages ${range.from}–${range.to} were lost before this page fetched them`));
client.on('fallback', (event) => {
  demo.fallbacks.push({ transport: event.transport, next: event.next, message: event.error.message, name: event.error.name });
  log('warn', `${event.error.message}${event.next ? `; trying ${event.next}` : '; no transport left'}`);
});
client.on('warning', (error) => {
  demo.warnings.push(error.message);
  log('warn', error.message);
});
client.on('closed', (error) => {
  demo.closed = error.message;
});

if (pingEveryMs > 0) {
  setInterval(() => {
    if (client.state.kind === 'connected') client.ping().catch((error) => log('warn', `RTT probe failed: ${error.message}`));
  }, pingEveryMs);
}

$('drop').addEventListener('click', () => client.dropConnection());
$('close').addEventListener('click', () => void client.close());
$('publish').addEventListener('submit', (event) => {
  event.preventDefault();
  const to = $('publish-to').value.trim();
  const text = $('publish-text').value;
  $('publish-result').textContent = 'sending…';
  client.publish(text, to ? { toUserId: to } : {}).then(
    (receipt) => {
      $('publish-result').textContent = `acknowledged as #${receipt.clientSeq}${receipt.messageId ? ` (${receipt.messageId})` : ''}`;
    },
    (error) => {
      $('publish-result').textContent = `failed: ${error.message}`;
    },
  );
});
