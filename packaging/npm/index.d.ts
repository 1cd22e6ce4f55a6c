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

/**
 * A journal entry: one request as the server saw it. Added when the request head is complete
 * (`end` and `ms` are null until its response ends).
 */
export interface JournalEntry {
  /** 1, 2, ... for the life of the server. */
  seq: number;
  /** Seconds since the server started (microsecond precision; the same clock for every entry). */
  t: number;
  /** The connection's number (entries of one keep-alive connection share it). */
  conn: number;
  /** The client's address, 'IP:PORT'. */
  peer: string;
  method: string;
  target: string;
  /** Request header fields as received (names in the client's case; up to 8 KiB). */
  headers: [string, string][];
  /** The route that matched (its SPEC), or null. */
  route: string | null;
  /** Which plan of the route's sequence was used (from 1), or null. */
  step: number | null;
  /** The plan used, in plan syntax. */
  plan: string;
  /** The status sent, or null when no status line was sent (reset, close, hang). */
  status: number | null;
  /** Response bytes written. */
  bytes: number;
  end: 'complete' | 'reset' | 'close' | 'hang' | 'peer-gone' | 'timeout' | 'error' | null;
  ms: number | null;
  /** Request body bytes read (decoded). */
  body_len?: number;
  /** SHA-256 of the request body (hex) when all of it was read and it is at most 16 MiB. */
  body_sha256?: string | null;
  /** HTTP/2: the stream id. */
  stream?: number;
  /** A WebSocket connection, once it ended: messages each way and the close frames' codes. */
  ws?: { in: number; out: number; close_sent: number | null; close_received: number | null };
  /** The value of request header `name`, in any case (several joined with ', '). */
  header(name: string): string | undefined;
  /** Every value of request header `name`, in any case, in the order sent. */
  headerValues(name: string): string[];
  [field: string]: unknown;
}

export interface RequestsQuery {
  /** Wait until at least this many entries are there... */
  min?: number;
  /** ...for up to this long: seconds, or a DUR such as '2s' or '250ms'. */
  wait?: number | string;
  /** Only entries after this seq. */
  since?: number;
  /** With `min`: resolve to what came instead of rejecting with a JournalTimeout. */
  partial?: boolean;
}

/** The control API's calls, on a Server and on a started HttpfaultContainer. */
export interface Control {
  /**
   * The journal, oldest first. With `min`, rejects with a JournalTimeout (naming how many
   * arrived) if fewer than `min` entries are there when `wait` runs out.
   */
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
}

/** A running httpfault server. */
export interface Server extends Control {
  /** 'http://127.0.0.1:PORT' */
  readonly url: string;
  readonly pid: number;
  readonly running: boolean;
  /** Log lines on stderr (with the `log` option). */
  readonly logLines: string[];
  /** SIGTERM (SIGKILL after timeoutMs, default 5000); resolves once the process is gone. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** A bad plan, route or option; the message is the binary's one-line reason. */
export class PlanError extends Error {
  name: 'PlanError';
}

/** requests({ min }) saw fewer entries than `min` when the wait ran out. */
export class JournalTimeout extends Error {
  name: 'JournalTimeout';
  /** What did arrive. */
  entries: JournalEntry[];
  /** The `min` asked for. */
  wanted: number;
}

/** Options for `new HttpfaultContainer()`: start()'s, plus the image and TLS. */
export interface ContainerOptions {
  plan?: string;
  routes?: string[] | string;
  seed?: number | bigint | string;
  journal?: number;
  /** The container's log format: 'text' (default), 'json', or null for none. */
  log?: 'text' | 'json' | null;
  /** More command-line options. */
  args?: string[];
  /** Default: $HTTPFAULT_IMAGE, else 'httpfault:latest' (what `make image` tags). */
  image?: string;
  /** HTTPS with a certificate for localhost and 127.0.0.1 made at start; the CA in caPem. */
  tls?: boolean;
  /** How long to wait for the readiness line once the container runs (default 30000). */
  startTimeoutMs?: number;
}

/** A started HttpfaultContainer: Testcontainers' started container and the control calls. */
export interface StartedHttpfaultContainer extends Control {
  /** 'http://HOST:MAPPED' (https:// with tls): the listener, port 9000 in the container. */
  readonly url: string;
  /** 'http://HOST:MAPPED': the control API, port 9001 in the container. */
  readonly controlUrl: string;
  /** With tls: the CA's PEM (https.get(url, { ca })). */
  readonly caPem: string | undefined;
  getHost(): string;
  getMappedPort(port: number): number;
  getId(): string;
  getIpAddress(networkName: string): string;
  stop(options?: { timeout?: number; remove?: boolean }): Promise<unknown>;
}

/**
 * httpfault in a container, for Node's `testcontainers` (an optional peer dependency): a
 * GenericContainer (withNetwork(), withNetworkAliases(), ... before start()). Waits for the
 * readiness line in the log (the image has no shell for an exec-based wait).
 */
export class HttpfaultContainer {
  constructor(options?: ContainerOptions);
  start(): Promise<StartedHttpfaultContainer>;
  // The rest of GenericContainer's builder methods.
  [method: string]: any;
}

/** Starts httpfault on 127.0.0.1 and a free port; resolves once it listens. */
export function start(options?: StartOptions): Promise<Server>;

/** The path of the httpfault binary this package runs. */
export function binaryPath(): string;
