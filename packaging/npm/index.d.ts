// Types for the httpfault test helper (index.js).

/** Options for start(). */
export interface StartOptions {
  /** The default plan, in plan syntax (for example 'reset=6' or 'status=503/delay=2s'). */
  plan?: string;
  /** Route SPECs ('[METHOD] PATH PLAN [PLAN ...]'), or the text of a routes file. */
  routes?: string[] | string;
  /** --seed: the same seed, the same garbage and chance outcomes. */
  seed?: number | bigint | string;
  /** --journal: how many requests the journal keeps. */
  journal?: number;
  /** Log lines ('text' or 'json') kept in server.logLines; default none (-q). */
  log?: 'text' | 'json';
  /** More command-line options. */
  args?: string[];
  /** The binary to run (default: $HTTPFAULT_BIN, else the one in this package). */
  binary?: string;
  /** How long to wait for the readiness line (default 10000). */
  startTimeoutMs?: number;
}

/** A journal entry: one request as the server saw it. */
export interface JournalEntry {
  seq: number;
  /** Seconds since the server started (microsecond precision). */
  t: number;
  conn: number;
  peer: string;
  method: string;
  target: string;
  /** Request header fields as received. */
  headers: [string, string][];
  route: string | null;
  step: number | null;
  plan: string;
  status: number | null;
  bytes: number;
  end: 'complete' | 'reset' | 'close' | 'hang' | 'peer-gone' | 'timeout' | 'error' | null;
  ms: number | null;
  [field: string]: unknown;
}

export interface RequestsQuery {
  /** Wait until at least this many entries are there... */
  min?: number;
  /** ...for up to this long: seconds, or a DUR such as '2s' or '250ms'. */
  wait?: number | string;
  /** Only entries after this seq. */
  since?: number;
}

/** A running httpfault server. */
export interface Server {
  /** 'http://127.0.0.1:PORT' */
  readonly url: string;
  readonly pid: number;
  readonly running: boolean;
  /** Log lines on stderr (with the `log` option). */
  readonly logLines: string[];
  /** The journal, oldest first. */
  requests(query?: RequestsQuery): Promise<JournalEntry[]>;
  /** Empty the journal. */
  clearRequests(): Promise<void>;
  /** Replace the routes; their counters start from zero. Rejects with PlanError for a bad line. */
  setRoutes(routes: string[] | string): Promise<void>;
  /** The routes in force, one SPEC each. */
  routes(): Promise<string[]>;
  /** Replace the default plan. Rejects with PlanError for a bad plan. */
  setPlan(plan: string): Promise<void>;
  /** The default plan, in plan syntax. */
  plan(): Promise<string>;
  /** Route and times counters and the journal back to the start. */
  reset(): Promise<void>;
  /** The Prometheus metrics: { 'httpfault_requests_total{end="reset"}': 2, ... }. */
  metrics(): Promise<Record<string, number>>;
  /** SIGTERM (SIGKILL after timeoutMs, default 5000); resolves once the process is gone. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** A bad plan, route or option; the message is the binary's one-line reason. */
export class PlanError extends Error {
  name: 'PlanError';
}

/** Starts httpfault on 127.0.0.1 and a free port; resolves once it listens. */
export function start(options?: StartOptions): Promise<Server>;

/** The path of the httpfault binary this package runs. */
export function binaryPath(): string;
