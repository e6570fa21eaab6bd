// Operating-system helpers shared by the benchmarks: /proc CPU and memory readings, ports, waiting, commands.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

export function procStat(pid: number): { ppid: number; ticks: number; childTicks: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on; comm may hold spaces
    return { ppid: +f[1]!, ticks: +f[11]! + +f[12]!, childTicks: +f[13]! + +f[14]! };
  } catch {
    return null;
  }
}

/** CPU of a process, of its reaped children, and of its live children: Postfix's smtpd(8)/smtp(8) come and go. */
export function treeTicks(pid: number): number {
  const me = procStat(pid);
  if (!me) return 0;
  let total = me.ticks + me.childTicks;
  for (const name of readdirSync('/proc')) {
    const st = /^\d+$/.test(name) ? procStat(+name) : null;
    if (st?.ppid === pid) total += st.ticks;
  }
  return total;
}

/** Peak resident set (VmHWM) of a process in KB, or null where the kernel does not report it. */
export function vmHwmKb(pid: number): number | null {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? +m[1]! : null;
}

/** CPU ticks per thread name: where a Bun process's time goes (its JavaScript, PGlite's worker, JIT, GC). */
export function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')).replace(/\.exe$/, '').trim() || '?';
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + +f[11]! + +f[12]!);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** Machine-wide CPU ticks (all cores) from /proc/stat: busy and total, to tell a CPU-bound round. */
export function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - (f[4] ?? 0), total }; // idle and iowait are not busy
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer().on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

export async function waitFor(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const portOpen = (port: number): Promise<boolean> =>
  new Promise((res) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), res(true))).on('error', () => res(false));
  });

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Runs a command to completion; a failure is the benchmark's setup failing, so it throws with the output. */
export function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}${r.stdout}`);
}
