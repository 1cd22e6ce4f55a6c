'use strict';
// The control API client shared by start()'s Server and HttpfaultContainer (container.js), and
// the journal's entries and errors. Node's standard library only (fetch).

const CONTROL = '/__httpfault/';

/** A bad plan, route or option: the message is the binary's one-line reason. */
class PlanError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PlanError';
  }
}

/**
 * `requests({ min: N, wait })` saw fewer than N entries when the wait ran out. `entries`: what
 * did arrive; `wanted`: N. The message names how many arrived and which requests they were.
 */
class JournalTimeout extends Error {
  constructor(message, entries, wanted) {
    super(message);
    this.name = 'JournalTimeout';
    this.entries = entries;
    this.wanted = wanted;
  }
}

// Header lookups that ignore the case of names, on each journal entry (not enumerable, so an
// entry still compares and serializes as the server's JSON): clients differ (fetch and every
// HTTP/2 client send lowercase names), and `headers` keeps them as received.
function headerValues(name) {
  const want = String(name).toLowerCase();
  return (this.headers || []).filter(([n]) => n.toLowerCase() === want).map(([, v]) => v);
}
function header(name) {
  const values = headerValues.call(this, name);
  return values.length ? values.join(', ') : undefined;
}
function toEntry(e) {
  Object.defineProperty(e, 'header', { value: header, enumerable: false });
  Object.defineProperty(e, 'headerValues', { value: headerValues, enumerable: false });
  return e;
}

function shortfall(entries, wanted, wait) {
  const seen = entries
    .slice(0, 5)
    .map((e) => `${e.method} ${e.target} (${e.end || 'not ended'})`)
    .join(', ');
  const more = entries.length > 5 ? ', ...' : '';
  const within = wait !== undefined ? ` within ${duration(wait)}` : '';
  const list = entries.length ? `: ${seen}${more}` : '';
  return `only ${entries.length} of the ${wanted} requests waited for arrived${within}${list}`;
}

function duration(value) {
  if (typeof value === 'string') return value;
  return `${Math.max(0, Math.round(value * 1000))}ms`;
}

function routesText(routes) {
  if (typeof routes === 'string') return routes;
  return routes.map((r) => `${r}\n`).join('');
}

/**
 * The control API's calls, shared by Server and the started HttpfaultContainer: each says
 * where the API is with _controlUrl().
 */
class Control {
  async _call(method, route, body) {
    const res = await fetch(this._controlUrl() + CONTROL + route, { method, body });
    const text = await res.text();
    if (res.status === 400) throw new PlanError(text.trim());
    if (!res.ok) {
      throw new Error(`httpfault: ${method} ${CONTROL}${route}: ${res.status} ${text.trim()}`);
    }
    return text;
  }

  /**
   * The journal, oldest first; each entry has `header(name)` (any case). `{ min, wait }`: wait
   * up to `wait` (seconds, or '2s') for `min` entries, and reject with a JournalTimeout naming
   * how many arrived if there are fewer then (`partial: true` resolves to what came instead).
   */
  async requests({ min, wait, since, partial = false } = {}) {
    const q = new URLSearchParams();
    if (min !== undefined) q.set('min', String(min));
    if (wait !== undefined) q.set('wait', duration(wait));
    if (since !== undefined) q.set('since', String(since));
    const qs = q.toString();
    const entries = JSON.parse(
      await this._call('GET', `requests${qs ? `?${qs}` : ''}`),
    ).requests.map(toEntry);
    if (min !== undefined && entries.length < min && !partial) {
      throw new JournalTimeout(shortfall(entries, min, wait), entries, min);
    }
    return entries;
  }

  async clearRequests() {
    await this._call('DELETE', 'requests');
  }

  async setRoutes(routes) {
    await this._call('PUT', 'routes', routesText(routes));
  }

  async routes() {
    return (await this._call('GET', 'routes')).split('\n').filter((l) => l);
  }

  async setPlan(plan) {
    await this._call('PUT', 'plan', plan);
  }

  async plan() {
    return (await this._call('GET', 'plan')).trim();
  }

  async reset() {
    await this._call('POST', 'reset');
  }

  /** The Prometheus metrics: `{ 'httpfault_requests_total{end="reset"}': 2, ... }`. */
  async metrics() {
    const out = {};
    for (const line of (await this._call('GET', 'metrics')).split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const at = line.lastIndexOf(' ');
      const value = Number(line.slice(at + 1));
      if (at > 0 && !Number.isNaN(value)) out[line.slice(0, at)] = value;
    }
    return out;
  }
}

module.exports = { Control, PlanError, JournalTimeout, duration, routesText };
