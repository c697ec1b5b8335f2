import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { isListening } from '../../scripts/stack/ports';
import type { MeasuredProcess } from './arm';

/**
 * Process-level control and measurement for the bench and the fault battery: services run as
 * real child processes (each in its own process group, so a kill reaches its helpers too, and a
 * terminal's Ctrl-C reaches only the bench), and their CPU and memory are read from /proc.
 */

// ---------------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------------

export interface WaitOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** Pause between checks (default 200 ms). */
  intervalMs?: number;
}

/** A wait that ran out of time; the message says what was awaited. */
export class WaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, detail?: string) {
    super(`${what} not ready after ${timeoutMs} ms${detail ? `: ${detail}` : ''}`);
    this.name = 'WaitTimeoutError';
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Calls `check` until it answers true or the time runs out. A check that throws counts as "not
 * yet"; its last error is named in the timeout.
 */
export async function waitUntil(what: string, check: () => Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  throw new WaitTimeoutError(
    what,
    timeoutMs,
    lastError instanceof Error ? lastError.message : lastError === undefined ? undefined : JSON.stringify(lastError),
  );
}

/** One GET of `url`; true when it answers with a status in `okStatuses` (default: any 2xx). */
export function httpAnswers(url: string, okStatuses?: readonly number[], timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(url, { timeout: timeoutMs }, (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      resolve(okStatuses ? okStatuses.includes(status) : status >= 200 && status < 300);
    });
    request.once('timeout', () => request.destroy(new Error('timeout')));
    request.once('error', () => resolve(false));
  });
}

/** Waits until a GET of `url` answers 2xx (or one of `okStatuses`). */
export function waitForHttp(
  url: string,
  options: WaitOptions & { okStatuses?: readonly number[] } = {},
): Promise<void> {
  return waitUntil(`GET ${url}`, () => httpAnswers(url, options.okStatuses), options);
}

/** Waits until something accepts TCP connections on host:port (default host 127.0.0.1). */
export function waitForPort(port: number, options: WaitOptions & { host?: string } = {}): Promise<void> {
  const host = options.host ?? '127.0.0.1';
  return waitUntil(`${host}:${port}`, () => isListening(port, host), options);
}

// ---------------------------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------------------------

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we know when getconf is missing). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** What /proc says about one process at one moment. */
export interface ProcessSample {
  pid: number;
  ppid: number;
  /** Start time in clock ticks after boot: with the PID, it names one process incarnation. */
  startTicks: number;
  state: string;
  /** utime + stime of the process itself, in seconds. */
  cpuSeconds: number;
  /** cutime + cstime: the CPU of children it has waited for (reaped), in seconds. */
  reapedChildrenCpuSeconds: number;
  rssBytes: number;
  /** VmHWM: the process's own peak RSS so far. */
  hwmBytes: number;
  /**
   * Proportional set size (smaps_rollup): shared pages divided among the processes sharing them,
   * so a tree's PSS sum does not count PostgreSQL's shared buffers once per backend as RSS does.
   * Only when asked for (reading it walks the page tables: tens of ms for a large Node process);
   * 0 otherwise or when unreadable.
   */
  pssBytes: number;
}

interface StatFields {
  ppid: number;
  state: string;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  startTicks: number;
}

function readStat(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself hold spaces or parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state) of proc(5); field n is fields[n - 3].
  const at = (field: number) => Number(fields[field - 3]);
  return {
    state: fields[0] ?? '?',
    ppid: at(4),
    utime: at(14),
    stime: at(15),
    cutime: at(16),
    cstime: at(17),
    startTicks: at(22),
  };
}

function readStatusKb(pid: number, keys: readonly string[]): Record<string, number> {
  const found: Record<string, number> = {};
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return found;
  }
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    const key = line.slice(0, colon);
    if (keys.includes(key)) found[key] = Number.parseInt(line.slice(colon + 1), 10) || 0;
  }
  return found;
}

function readPssKb(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples each PID that still exists (zombies included: their times stay readable until reaped;
 * their memory reads as 0). PIDs that are gone are left out. `pss` also reads PSS (slow).
 */
export function sampleProcesses(pids: readonly number[], options: { pss?: boolean } = {}): ProcessSample[] {
  const ticks = clockTicksPerSecond();
  const samples: ProcessSample[] = [];
  for (const pid of pids) {
    const stat = readStat(pid);
    if (!stat) continue;
    const memory = readStatusKb(pid, ['VmRSS', 'VmHWM']);
    samples.push({
      pid,
      ppid: stat.ppid,
      startTicks: stat.startTicks,
      state: stat.state,
      cpuSeconds: (stat.utime + stat.stime) / ticks,
      reapedChildrenCpuSeconds: (stat.cutime + stat.cstime) / ticks,
      rssBytes: (memory.VmRSS ?? 0) * 1024,
      hwmBytes: (memory.VmHWM ?? 0) * 1024,
      pssBytes: options.pss ? readPssKb(pid) * 1024 : 0,
    });
  }
  return samples;
}

/** Every PID now, with its parent (one pass over /proc). */
export function parentsByPid(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat) parents.set(pid, stat.ppid);
  }
  return parents;
}

/**
 * The given roots (those still alive) and all their descendants, from /proc. Pass `parents` (from
 * {@link parentsByPid}) to reuse one scan of /proc for several trees: a scan reads every process's
 * stat file, which costs milliseconds on a busy machine.
 */
export function processTree(rootPids: readonly number[], parents: Map<number, number> = parentsByPid()): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const siblings = children.get(ppid);
    if (siblings) siblings.push(pid);
    else children.set(ppid, [pid]);
  }
  const tree: number[] = [];
  const queue = rootPids.filter((pid) => parents.has(pid));
  const seen = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Seconds since boot now, in clock ticks, comparable with {@link ProcessSample.startTicks}. */
function uptimeTicks(): number {
  const seconds = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Math.floor(seconds * clockTicksPerSecond());
}

// ---------------------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------------------

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface ServiceOptions {
  /** worker, api, temporal, postgres… (also the MeasuredProcess role). */
  role: string;
  command: string;
  args: readonly string[];
  /** The child's WHOLE environment (nothing of ours is inherited unless passed); default process.env. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here (a restart appends to the same file). */
  logFile: string;
  /** Answers true once the service serves; polled until `readyTimeoutMs`. */
  ready: (service: ServiceProcess) => Promise<boolean>;
  readyTimeoutMs?: number;
  /** What stop() sends first (default SIGTERM; PostgreSQL's fast shutdown is SIGINT). */
  stopSignal?: NodeJS.Signals;
  /** Run as another OS user (PostgreSQL refuses root). */
  uid?: number;
  gid?: number;
}

/** A running service: one child process (tree) that can be killed, restarted and measured. */
export interface ServiceProcess extends MeasuredProcess {
  readonly role: string;
  /** PID of the current incarnation's root. */
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the current incarnation exits (a restart gives a new promise). */
  readonly exited: Promise<ServiceExit>;
  /** How many times it was started again. */
  readonly restarts: number;
  readonly logFile: string;
  alive(): boolean;
  /** The root and its descendants now (from /proc); empty while it is down. */
  pids(): number[];
  /** The root alone ([] while it is down): the sampler finds the descendants in its own scan. */
  rootPids(): number[];
  /**
   * Sends `signal` (default SIGKILL) to the service's whole process group: the root and every
   * helper it started that did not leave the group. Does not wait.
   */
  kill(signal?: NodeJS.Signals): void;
  /** Starts it again with the same command and environment (stopping it first if it still runs) and waits until ready. */
  restart(): Promise<void>;
  /** Sends the stop signal, then SIGKILL after `graceMs` (default 10 s); resolves when it has exited. */
  stop(graceMs?: number): Promise<ServiceExit | undefined>;
}

/** The last `bytes` of a log file, for error messages. */
export function logTail(file: string, bytes = 2_000): string {
  try {
    const size = fs.statSync(file).size;
    const handle = fs.openSync(file, 'r');
    try {
      const length = Math.min(size, bytes);
      const buffer = Buffer.alloc(length);
      fs.readSync(handle, buffer, 0, length, size - length);
      return buffer.toString('utf8');
    } finally {
      fs.closeSync(handle);
    }
  } catch {
    return '';
  }
}

/**
 * SIGKILLs every service this process started that still runs: for a harness's own SIGINT/SIGTERM
 * handler, since the 'exit' hook below does not run when a signal ends the process.
 */
export function killLiveServices(): void {
  for (const service of liveServices) service.kill('SIGKILL');
}

/**
 * What a stack has started, to be stopped in reverse order: on a failed start, and at the end. A
 * part that fails to stop is reported and the rest are still stopped.
 */
export class StartedParts {
  private readonly parts: Array<{ name: string; stop: () => Promise<unknown> }> = [];

  constructor(private readonly say: (line: string) => void) {}

  push(part: { name: string; stop: () => Promise<unknown> }): void {
    this.parts.push(part);
  }

  async stopAll(): Promise<void> {
    for (const { name, stop } of this.parts.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        this.say(`could not stop ${name}: ${String(error)}`);
      }
    }
  }
}

/**
 * Ends this script on Ctrl-C, SIGTERM or a closed terminal through `process.exit`, so that the 'exit'
 * hooks kill every service it started (they run in their own process groups: the terminal's signal
 * does not reach them, and a signal that ends the process skips 'exit' hooks).
 */
export function exitOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping every service this run started\n`);
      process.exit(130);
    });
  }
}

/** Services still running, killed if this process exits without stopping them. */
const liveServices = new Set<ServiceProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Detached children outlive a crashed parent; this keeps a crash from leaving ports and data dirs taken.
  process.once('exit', () => {
    for (const service of liveServices) service.kill('SIGKILL');
  });
}

class ChildService implements ServiceProcess {
  child!: ChildProcess;
  exited!: Promise<ServiceExit>;
  restarts = 0;
  private exit: ServiceExit | undefined;

  constructor(private readonly options: ServiceOptions) {}

  get role(): string {
    return this.options.role;
  }

  get logFile(): string {
    return this.options.logFile;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  alive(): boolean {
    return this.exit === undefined;
  }

  pids(): number[] {
    return this.alive() ? processTree([this.pid]) : [];
  }

  rootPids(): number[] {
    return this.alive() ? [this.pid] : [];
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.alive()) return;
    try {
      // Negative: the process group the detached child leads.
      process.kill(-this.pid, signal);
    } catch {
      this.child.kill(signal);
    }
  }

  async start(): Promise<void> {
    const { options } = this;
    fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
    const log = fs.openSync(options.logFile, 'a');
    try {
      this.child = spawn(options.command, [...options.args], {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['ignore', log, log],
        detached: true,
        uid: options.uid,
        gid: options.gid,
      });
    } finally {
      fs.closeSync(log);
    }
    this.exit = undefined;
    const child = this.child;
    this.exited = new Promise<ServiceExit>((resolve) => {
      child.once('exit', (code, signal) => {
        const exit = { code, signal, at: Date.now() };
        if (this.child === child) {
          this.exit = exit;
          liveServices.delete(this);
        }
        resolve(exit);
      });
      child.once('error', () => {
        // spawn failed (no such command): no 'exit' follows.
        const exit = { code: -1, signal: null, at: Date.now() };
        if (this.child === child) {
          this.exit = exit;
          liveServices.delete(this);
        }
        resolve(exit);
      });
    });
    liveServices.add(this);
    installExitHook();

    const timeoutMs = options.readyTimeoutMs ?? 120_000;
    const died = this.exited.then((exit) => {
      throw new Error(
        `${options.role} exited (code ${exit.code}, signal ${exit.signal}) before it was ready; ` +
          `${options.logFile} ends with:\n${logTail(options.logFile)}`,
      );
    });
    died.catch(() => undefined);
    try {
      await Promise.race([
        waitUntil(`${options.role} (pid ${this.pid})`, () => options.ready(this), { timeoutMs, intervalMs: 250 }),
        died,
      ]);
    } catch (error) {
      await this.stop(2_000);
      throw error;
    }
  }

  async restart(): Promise<void> {
    if (this.alive()) await this.stop();
    this.restarts += 1;
    await this.start();
  }

  async stop(graceMs = 10_000): Promise<ServiceExit | undefined> {
    if (!this.alive()) return this.exit;
    this.kill(this.options.stopSignal ?? 'SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

/** Starts a service as a child process in its own process group and waits until `ready` answers true. */
export async function startService(options: ServiceOptions): Promise<ServiceProcess> {
  const service = new ChildService(options);
  await service.start();
  return service;
}

// ---------------------------------------------------------------------------------------------
// Sampling
// ---------------------------------------------------------------------------------------------

export interface RoleUsage {
  role: string;
  /** CPU-seconds used inside the window, the process trees of every incarnation summed. */
  cpuSeconds: number;
  /** Largest sum of VmRSS over the role's process tree at one sample (counts shared pages once per process). */
  peakRssBytes: number;
  /**
   * Largest sum of PSS over the tree at the samples that read it (every `pssEvery`-th): the fairer
   * figure for PostgreSQL's many backends, but it may miss a short peak. 0 when PSS was not read.
   */
  peakPssBytes: number;
  /** Largest VmHWM of any one of its processes (catches a peak between samples). */
  peakProcessHwmBytes: number;
  /** Root incarnations seen (more than one after a restart). */
  incarnations: number;
  samples: number;
}

export interface ProcessUsage {
  startedAt: number;
  endedAt: number;
  intervalMs: number;
  /** Wall time the sampler itself spent reading /proc (in the caller's process, blocking its event loop). */
  samplingMs: number;
  roles: RoleUsage[];
}

export interface ProcessSamplerOptions {
  /** Pause between samples (default 1 s). */
  intervalMs?: number;
  /** The sampler stops by itself after this long (default 6 h). */
  maxDurationMs?: number;
  /** Read PSS at every n-th sample (default 10; 0: never). PSS costs tens of ms per large process. */
  pssEvery?: number;
}

interface IncarnationCpu {
  /** CPU of the tree counted as the window's zero. */
  baseline: number;
  last: number;
}

interface RoleState {
  incarnations: Map<string, IncarnationCpu>;
  peakRssBytes: number;
  peakPssBytes: number;
  peakProcessHwmBytes: number;
  samples: number;
}

function hasRootPids(measured: MeasuredProcess): measured is MeasuredProcess & { rootPids(): number[] } {
  return typeof (measured as { rootPids?: unknown }).rootPids === 'function';
}

/**
 * Samples a set of processes every `intervalMs` and keeps, per role, the CPU-seconds used inside
 * the window and the peak RSS.
 *
 * CPU of one root incarnation (a PID with its start time) = the sum over its live tree of
 * utime + stime + cutime + cstime. Reaping moves a child's whole total (its own and its reaped
 * children's) into its parent's cutime/cstime, so the sum never drops when a PostgreSQL backend
 * exits; it only misses children that leave the tree (re-parented to init) and what a root used
 * between its last sample and its death (at most one interval per kill). A root born inside the
 * window counts from zero, so a restarted worker's start-up (bundling) is counted too; roots
 * that were already running count from the first sample.
 */
export class ProcessSampler {
  private readonly roles = new Map<string, RoleState>();
  private readonly intervalMs: number;
  private readonly maxDurationMs: number;
  private readonly pssEvery: number;
  private sampleCount = 0;
  private samplingMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private endedAt = 0;
  private windowStartTicks = 0;

  private readonly processes: () => readonly MeasuredProcess[];

  /** `processes`: a fixed set, or a function asked at every sample (services come and go). */
  constructor(
    processes: readonly MeasuredProcess[] | (() => readonly MeasuredProcess[]),
    options: ProcessSamplerOptions = {},
  ) {
    this.processes = typeof processes === 'function' ? processes : () => processes;
    this.intervalMs = options.intervalMs ?? 1_000;
    this.maxDurationMs = options.maxDurationMs ?? 6 * 3600_000;
    this.pssEvery = options.pssEvery ?? 10;
  }

  /** Takes the first sample and keeps sampling until stop(). */
  start(): void {
    this.startedAt = Date.now();
    this.windowStartTicks = uptimeTicks();
    this.sampleNow();
    this.timer = setInterval(() => {
      if (Date.now() - this.startedAt > this.maxDurationMs) this.halt();
      else this.sampleNow();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One sample now (also called by the timer). */
  sampleNow(): void {
    const began = performance.now();
    const pss = this.pssEvery > 0 && this.sampleCount % this.pssEvery === 0;
    this.sampleCount += 1;
    // One scan of /proc per sample, shared by every role.
    const parents = parentsByPid();
    for (const measured of this.processes()) {
      const state = this.stateOf(measured.role);
      state.samples += 1;
      // pids() may give roots only or whole trees: the union of their trees counts each process once.
      const roots = hasRootPids(measured) ? measured.rootPids() : measured.pids();
      const tree = sampleProcesses(processTree(roots, parents), { pss });
      const byPid = new Map(tree.map((sample) => [sample.pid, sample]));
      const cpuByRoot = new Map<string, { cpu: number; startTicks: number }>();
      let treeRss = 0;
      let treePss = 0;
      for (const sample of tree) {
        treeRss += sample.rssBytes;
        treePss += sample.pssBytes;
        state.peakProcessHwmBytes = Math.max(state.peakProcessHwmBytes, sample.hwmBytes);
        let root = sample;
        for (let depth = 0; depth < 64 && byPid.has(root.ppid); depth += 1) root = byPid.get(root.ppid)!;
        const key = `${root.pid}@${root.startTicks}`;
        const entry = cpuByRoot.get(key) ?? { cpu: 0, startTicks: root.startTicks };
        entry.cpu += sample.cpuSeconds + sample.reapedChildrenCpuSeconds;
        cpuByRoot.set(key, entry);
      }
      for (const [key, { cpu, startTicks }] of cpuByRoot) {
        const known = state.incarnations.get(key);
        if (known) known.last = Math.max(known.last, cpu);
        else {
          const bornInWindow = startTicks >= this.windowStartTicks;
          state.incarnations.set(key, { baseline: bornInWindow ? 0 : cpu, last: cpu });
        }
      }
      state.peakRssBytes = Math.max(state.peakRssBytes, treeRss);
      state.peakPssBytes = Math.max(state.peakPssBytes, treePss);
    }
    this.samplingMs += performance.now() - began;
  }

  /** The figures so far. */
  report(): ProcessUsage {
    return {
      startedAt: this.startedAt,
      endedAt: this.endedAt || Date.now(),
      intervalMs: this.intervalMs,
      samplingMs: Math.round(this.samplingMs),
      roles: [...this.roles].map(([role, state]) => ({
        role,
        cpuSeconds: [...state.incarnations.values()].reduce((sum, cpu) => sum + (cpu.last - cpu.baseline), 0),
        peakRssBytes: state.peakRssBytes,
        peakPssBytes: state.peakPssBytes,
        peakProcessHwmBytes: state.peakProcessHwmBytes,
        incarnations: state.incarnations.size,
        samples: state.samples,
      })),
    };
  }

  /** Takes a last sample, stops sampling and returns the figures. */
  stop(): ProcessUsage {
    if (this.timer) this.sampleNow();
    this.halt();
    return this.report();
  }

  private halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.endedAt ||= Date.now();
  }

  private stateOf(role: string): RoleState {
    let state = this.roles.get(role);
    if (!state) {
      state = { incarnations: new Map(), peakRssBytes: 0, peakPssBytes: 0, peakProcessHwmBytes: 0, samples: 0 };
      this.roles.set(role, state);
    }
    return state;
  }
}
