// The fault suite's shared shapes: a cluster (nginx in front of web replicas, one worker, one
// Postgres, a fake Chatwoot), a steady mixed load with exact bookkeeping, and one figures row per scenario.
import type { FakeChatwoot } from '../fakes/chatwoot.ts';

export interface ProcessHandle {
  name: string;
  port: number;
  /** The running process's pid, or undefined while it is down. */
  pid(): number | undefined;
  /** SIGKILL (or the given signal); resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again and resolves once /health/ready answers 200 (or, for the worker, once it runs). */
  start(): Promise<void>;
  /** Resident set size in bytes (from /proc), or undefined while it is down. */
  rss(): number | undefined;
  /** Everything the process printed (for failures). */
  output(): string;
}

export interface Cluster {
  /** nginx, the only address the load uses. */
  baseUrl: string;
  web: ProcessHandle[];
  worker: ProcessHandle;
  database: {
    url: string;
    query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
    /** Stops Postgres (fast shutdown) for `downMs`, then starts it again on the same port and data. */
    restart(downMs: number): Promise<void>;
  };
  chatwoot: FakeChatwoot;
  accountId: number;
  /** Headers that sign a staff user in (admin, every capability on) for API writes through nginx. */
  adminHeaders: Record<string, string>;
  /** A second account the load never writes to, with an admin's headers: the fuzzer's, so its rows can be checked unchanged. */
  fuzzAccount?: { accountId: number; adminHeaders: Record<string, string> };
  stop(): Promise<void>;
}

/** What the load sent and what came back; every request carries a unique key so effects can be counted. */
export interface LoadTally {
  offered: number;
  acknowledged: number;
  serverErrors: number;
  /** Requests that never got an answer (connection refused or reset). */
  failedToConnect: number;
}

export interface Load {
  /** Starts sending signed Chatwoot webhooks, Twilio callbacks and API writes at `perSecond` (mixed). */
  start(perSecond?: number): void;
  /** Stops sending and waits for requests in flight. */
  stop(): Promise<LoadTally>;
  tally(): LoadTally;
  /** Waits until everything acknowledged has been processed (or `timeoutMs`), then counts effects. */
  settle(timeoutMs: number): Promise<{ processed: number; lost: number; duplicated: number }>;
  /** Forgets the bookkeeping (next scenario starts at zero). */
  reset(): void;
}

export interface ScenarioRow {
  scenario: string;
  /** "N requests over S s", or similar, in words. */
  load: string;
  acknowledged: number;
  processed: number;
  lost: number;
  duplicated: number;
  serverErrors: number;
  /** Seconds from the fault to full service again; null when not applicable. */
  recoverySeconds: number | null;
  /** One line: what else was checked (e.g. "readiness 503 then 200", "RSS max 142 MB"). */
  notes: string;
  /** False when any check of the scenario failed (the run exits 1). */
  passed: boolean;
}

export type Scenario = (cluster: Cluster, load: Load) => Promise<ScenarioRow>;
